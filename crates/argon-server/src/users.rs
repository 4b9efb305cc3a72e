//! Users and roles for `--auth`, stored in the data dir.

use bson::Document;

use crate::auth::Principal;
use crate::error::{code, CmdResult, CommandError};

/// The user database. Present only when authentication is enabled.
pub struct Users {
    pub path: std::path::PathBuf,
}

impl Users {
    pub fn check_access(
        &self,
        user: Option<&Principal>,
        name: &str,
        _db: &str,
        _cmd: &Document,
    ) -> CmdResult<()> {
        let open = matches!(
            name,
            "hello"
                | "isMaster"
                | "ismaster"
                | "saslStart"
                | "saslContinue"
                | "ping"
                | "buildInfo"
                | "buildinfo"
                | "logout"
                | "endSessions"
                | "whatsmyuri"
                | "connectionStatus"
        );
        if open || user.is_some() {
            return Ok(());
        }
        Err(CommandError::new(code::UNAUTHORIZED, format!("Command {name} requires authentication")))
    }

    pub fn has_role(&self, user: Option<&Principal>, project: &str, need: &str) -> bool {
        let Some(u) = user else { return false };
        u.roles.iter().any(|(p, r)| (p == project || p == "*") && role_covers(r, need))
    }

    pub fn require(&self, user: Option<&Principal>, project: &str, need: &str) -> CmdResult<()> {
        if self.has_role(user, project, need) {
            return Ok(());
        }
        Err(CommandError::new(
            code::UNAUTHORIZED,
            format!("not authorized on project {project} (needs role {need})"),
        ))
    }
}

/// Whether holding role `have` grants `need`.
pub fn role_covers(have: &str, need: &str) -> bool {
    let rank = |r: &str| match r {
        "read" => 1,
        "readWrite" => 2,
        "admin" | "dbOwner" | "root" => 3,
        _ => 0,
    };
    rank(have) >= rank(need) && rank(need) > 0
}
