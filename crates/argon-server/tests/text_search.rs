//! `$text` search with the official driver: a text index, find with terms,
//! phrases, negations, language `none` and case sensitivity, sorting and
//! projecting by `{$meta: "textScore"}`, an aggregation with `$match`
//! `$text` and `$sort` by score, count, and MongoDB's errors.

mod common;

use bson::{doc, Document};
use common::TestServer;
use futures::TryStreamExt;
use mongodb::error::ErrorKind;
use mongodb::Collection;

fn code_of(e: &mongodb::error::Error) -> i32 {
    match &*e.kind {
        ErrorKind::Command(c) => c.code,
        _ => panic!("unexpected error {e}"),
    }
}

async fn ids(coll: &Collection<Document>, filter: Document) -> Vec<i32> {
    let docs: Vec<Document> =
        coll.find(filter).sort(doc! {"_id": 1}).await.unwrap().try_collect().await.unwrap();
    docs.iter().map(|d| d.get_i32("_id").unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_search_matches_scores_and_sorts() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("shop");
    let articles = db.collection::<Document>("articles");
    articles
        .insert_many(vec![
            doc! {"_id": 1, "subject": "coffee", "author": "xyz", "views": 50},
            doc! {"_id": 2, "subject": "Coffee Shopping", "author": "efg", "views": 5},
            doc! {"_id": 3, "subject": "Baking a cake", "author": "abc", "views": 90},
            doc! {"_id": 4, "subject": "baking", "author": "xyz", "views": 100},
            doc! {"_id": 5, "subject": "Café Con Leche", "author": "abc", "views": 200},
            doc! {"_id": 6, "subject": "Сырники", "author": "jkl", "views": 80},
            doc! {"_id": 7, "subject": "coffee and cream", "author": "efg", "views": 10},
            doc! {"_id": 8, "subject": "Cafe con Leche", "author": "xyz", "views": 10},
        ])
        .await
        .unwrap();

    // No text index yet: IndexNotFound.
    let e = articles.find(doc! {"$text": {"$search": "coffee"}}).await.unwrap_err();
    assert_eq!(code_of(&e), 27, "{e}");

    articles
        .create_index(mongodb::IndexModel::builder().keys(doc! {"subject": "text"}).build())
        .await
        .unwrap();
    // A second, different text index is refused.
    let e = articles
        .create_index(mongodb::IndexModel::builder().keys(doc! {"author": "text"}).build())
        .await
        .unwrap_err();
    assert_eq!(code_of(&e), 85, "{e}");

    // Terms are OR'ed, stemmed and case-insensitive.
    assert_eq!(ids(&articles, doc! {"$text": {"$search": "coffee"}}).await, [1, 2, 7]);
    assert_eq!(ids(&articles, doc! {"$text": {"$search": "bake coffee cake"}}).await, [1, 2, 3, 4, 7]);
    // A phrase must appear; a negated term must not.
    assert_eq!(ids(&articles, doc! {"$text": {"$search": "\"coffee shop\""}}).await, [2]);
    assert_eq!(ids(&articles, doc! {"$text": {"$search": "coffee -shop"}}).await, [1, 7]);
    assert_eq!(ids(&articles, doc! {"$text": {"$search": "coffee -\"and cream\""}}).await, [1, 2]);
    assert_eq!(ids(&articles, doc! {"$text": {"$search": "-coffee"}}).await, Vec::<i32>::new());
    // Diacritics are ignored unless asked for; case likewise.
    assert_eq!(ids(&articles, doc! {"$text": {"$search": "leche"}}).await, [5, 8]);
    assert_eq!(ids(&articles, doc! {"$text": {"$search": "café", "$diacriticSensitive": true}}).await, [5]);
    assert_eq!(ids(&articles, doc! {"$text": {"$search": "Coffee", "$caseSensitive": true}}).await, [2]);
    assert_eq!(ids(&articles, doc! {"$text": {"$search": "СЫРНИКИ"}}).await, [6]);
    // Language none: the query is not stemmed, so "shopping" does not meet
    // the stored (English) term "shop"; nor are stop words dropped, so
    // "and" is a term, which no document has (English drops it).
    assert_eq!(ids(&articles, doc! {"$text": {"$search": "shopping"}}).await, [2]);
    assert_eq!(
        ids(&articles, doc! {"$text": {"$search": "shopping", "$language": "none"}}).await,
        Vec::<i32>::new()
    );
    assert_eq!(ids(&articles, doc! {"$text": {"$search": "shop", "$language": "none"}}).await, [2]);
    assert_eq!(
        ids(&articles, doc! {"$text": {"$search": "and", "$language": "none"}}).await,
        Vec::<i32>::new()
    );
    // Combined with other conditions.
    assert_eq!(ids(&articles, doc! {"$text": {"$search": "coffee"}, "views": {"$gt": 6}}).await, [1, 7]);

    // Project and sort by score: a whole-subject match scores highest.
    let docs: Vec<Document> = articles
        .find(doc! {"$text": {"$search": "coffee"}})
        .projection(doc! {"score": {"$meta": "textScore"}, "subject": 1})
        .sort(doc! {"score": {"$meta": "textScore"}})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let got: Vec<(i32, f64)> =
        docs.iter().map(|d| (d.get_i32("_id").unwrap(), d.get_f64("score").unwrap())).collect();
    // "coffee" alone: 1 × (0.5 × 1/1 + 0.5) = 1; among 2 tokens: 0.75;
    // among 2 ("and" is a stop word): 0.75.
    assert_eq!(got, [(1, 1.0), (2, 0.75), (7, 0.75)]);
    assert_eq!(docs[0].keys().collect::<Vec<_>>(), ["_id", "subject", "score"]);

    // count and findOne see $text too.
    assert_eq!(articles.count_documents(doc! {"$text": {"$search": "coffee"}}).await.unwrap(), 3);

    // Aggregation: $match $text first, score through $addFields and $sort.
    let out: Vec<Document> = articles
        .aggregate(vec![
            doc! {"$match": {"$text": {"$search": "cake coffee"}}},
            doc! {"$project": {"subject": 1}},
            doc! {"$sort": {"score": {"$meta": "textScore"}, "_id": 1}},
            doc! {"$addFields": {"score": {"$meta": "textScore"}}},
            doc! {"$limit": 3},
        ])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let got: Vec<(i32, f64)> =
        out.iter().map(|d| (d.get_i32("_id").unwrap(), d.get_f64("score").unwrap())).collect();
    assert_eq!(got, [(1, 1.0), (2, 0.75), (3, 0.75)]);
    assert!(out.iter().all(|d| d.keys().all(|k| !k.contains('\0'))), "{out:?}");
    // $$ROOT does not show the score.
    let out: Vec<Document> = articles
        .aggregate(vec![doc! {"$match": {"$text": {"$search": "cake"}}}, doc! {"$replaceWith": "$$ROOT"}])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(out, [doc! {"_id": 3, "subject": "Baking a cake", "author": "abc", "views": 90}]);

    // Errors.
    let e = articles
        .aggregate(vec![doc! {"$limit": 5}, doc! {"$match": {"$text": {"$search": "cake"}}}])
        .await
        .unwrap_err();
    assert_eq!(code_of(&e), 17313, "{e}");
    let e = articles.aggregate(vec![doc! {"$sort": {"s": {"$meta": "textScore"}}}]).await.unwrap_err();
    assert_eq!(code_of(&e), 40218, "{e}");
    let e = articles.find(doc! {}).projection(doc! {"s": {"$meta": "textScore"}}).await.unwrap_err();
    assert_eq!(code_of(&e), 40218, "{e}");
    let bad: Vec<(Document, i32)> = vec![
        (doc! {"$text": {"$search": 1}}, 14),
        (doc! {"$text": {"$search": "a", "$language": "klingon"}}, 2),
        (doc! {"$text": {"$search": "a", "$caseSensitive": "yes"}}, 14),
        (doc! {"$text": {"$search": "a", "$foo": 1}}, 2),
        (doc! {"$text": "coffee"}, 2),
        (doc! {"$and": [{"$text": {"$search": "a"}}, {"$text": {"$search": "b"}}]}, 2),
        (doc! {"$nor": [{"$text": {"$search": "a"}}]}, 2),
        (doc! {"a": {"$elemMatch": {"$text": {"$search": "a"}}}}, 2),
    ];
    for (filter, code) in bad {
        let e = articles.find(filter.clone()).await.unwrap_err();
        assert_eq!(code_of(&e), code, "{filter}: {e}");
    }
    // A text query inside a top-level $and works.
    assert_eq!(
        ids(&articles, doc! {"$and": [{"$text": {"$search": "coffee"}}, {"author": "efg"}]}).await,
        [2, 7]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcard_text_indexes_weights_and_languages() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("shop");
    let notes = db.collection::<Document>("notes");
    notes
        .insert_many(vec![
            doc! {"_id": 1, "title": "Running shoes", "body": {"tags": ["sport", "shoes"]}},
            doc! {"_id": 2, "title": "Cooking", "body": {"tags": ["kitchen"], "text": "shoes off in the kitchen"}},
            doc! {"_id": 3, "title": "Les chaussures", "idioma": "french", "body": {"text": "chevaux"}},
        ])
        .await
        .unwrap();
    let bad = notes
        .create_index(
            mongodb::IndexModel::builder()
                .keys(doc! {"$**": "text"})
                .options(mongodb::options::IndexOptions::builder().default_language("xx".to_string()).build())
                .build(),
        )
        .await
        .unwrap_err();
    assert_eq!(code_of(&bad), 17264, "{bad}");
    notes
        .create_index(
            mongodb::IndexModel::builder()
                .keys(doc! {"$**": "text"})
                .options(
                    mongodb::options::IndexOptions::builder()
                        .weights(doc! {"title": 10})
                        .language_override("idioma".to_string())
                        .build(),
                )
                .build(),
        )
        .await
        .unwrap();
    // Every string, nested and in arrays; the title weighs 10.
    let docs: Vec<Document> = notes
        .find(doc! {"$text": {"$search": "shoe kitchen"}})
        .projection(doc! {"score": {"$meta": "textScore"}, "_id": 1})
        .sort(doc! {"score": {"$meta": "textScore"}})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let order: Vec<i32> = docs.iter().map(|d| d.get_i32("_id").unwrap()).collect();
    assert_eq!(order, [1, 2]);
    assert!(docs[0].get_f64("score").unwrap() > 5.0, "{docs:?}");
    // The document's own language (French stemming: chevaux -> cheval).
    assert_eq!(ids(&notes, doc! {"$text": {"$search": "cheval", "$language": "fr"}}).await, [3]);
}
