//! Test support (feature `testing`): PostgreSQL databases of a test's own on the test server
//! (`STEWARD_TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`), and a
//! shop's data to copy between them.

use sqlx::{Connection, Executor, Row};
use steward_tools::Secret;

fn admin_url() -> String {
    std::env::var("STEWARD_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

async fn admin() -> sqlx::PgConnection {
    let url = admin_url();
    match sqlx::PgConnection::connect(&url).await {
        Ok(conn) => conn,
        Err(e) => panic!(
            "PostgreSQL at {url} is needed by this test ({e}); run ./deploy/test.sh, which starts a local cluster, or set STEWARD_TEST_DATABASE_URL"
        ),
    }
}

/// A database of the test's own, made empty at the start.
#[derive(Debug, Clone)]
pub struct ScratchDb {
    pub name: String,
    pub url: String,
}

impl ScratchDb {
    /// `name` (lowercase letters, digits, `_`), dropped first if a previous run left it.
    pub async fn create(name: &str) -> ScratchDb {
        assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{name}");
        let mut conn = admin().await;
        conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await.expect("drop");
        conn.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create database");
        let _ = conn.close().await;
        let mut url = url::Url::parse(&admin_url()).expect("STEWARD_TEST_DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        ScratchDb { name: name.to_string(), url: url.to_string() }
    }

    pub fn secret(&self) -> Secret<String> {
        Secret::new(self.url.clone())
    }

    pub async fn connect(&self) -> sqlx::PgConnection {
        sqlx::PgConnection::connect(&self.url).await.expect("connect to the scratch database")
    }

    /// Run `sql` (several statements allowed).
    pub async fn run(&self, sql: &str) {
        let mut conn = self.connect().await;
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = conn.close().await;
    }

    pub async fn count(&self, table: &str) -> i64 {
        let mut conn = self.connect().await;
        let n = sqlx::query(&format!("SELECT count(*) AS n FROM {table}"))
            .fetch_one(&mut conn)
            .await
            .expect("count")
            .get::<i64, _>("n");
        let _ = conn.close().await;
        n
    }

    pub async fn drop_db(self) {
        let mut conn = admin().await;
        let _ = conn.execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str()).await;
        let _ = conn.close().await;
    }
}

/// A shop's tables with `customers` customers (orders and line items in proportion): keys
/// of several shapes (serial, composite, text), a table without a key, a second schema and
/// a name that needs quoting.
pub async fn seed_shop(db: &ScratchDb, customers: u32) {
    db.run(&format!(
        "CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE);
         CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id),
                              total numeric(10,2) NOT NULL, placed_at timestamptz NOT NULL DEFAULT now());
         CREATE TABLE line_items (order_id bigint REFERENCES orders(id), n int, sku text NOT NULL,
                                  PRIMARY KEY (order_id, n));
         CREATE TABLE settings (key text PRIMARY KEY, value jsonb);
         CREATE TABLE page_views (path text, at timestamptz DEFAULT now());
         CREATE SCHEMA audit;
         CREATE TABLE audit.\"Log Entries\" (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), what text);
         INSERT INTO customers (name, email) SELECT 'customer ' || g, 'c' || g || '@shop.example' FROM generate_series(1, {customers}) g;
         INSERT INTO orders (customer_id, total) SELECT 1 + (g % {customers}), (g % 500) + 0.99 FROM generate_series(1, {orders}) g;
         INSERT INTO line_items SELECT o.id, n, 'SKU-' || (o.id * n) FROM orders o, generate_series(1, 3) n;
         INSERT INTO settings VALUES ('currency', '\"EUR\"'), ('tax', '{{\"rate\": 0.21}}');
         INSERT INTO page_views (path) SELECT '/p/' || (g % 50) FROM generate_series(1, {views}) g;
         INSERT INTO audit.\"Log Entries\" (what) SELECT 'entry ' || g FROM generate_series(1, 25) g;",
        orders = customers * 2,
        views = customers * 3,
    ))
    .await;
}
