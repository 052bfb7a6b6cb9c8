// The reference application's flow against an rdsbox sandbox (or AWS), configured only
// from the environment that `rdsbox env` prints:
//   1. read the database credentials from Secrets Manager (DB_SECRET_ARN),
//   2. read a user through the cache (cache-aside: GET, on a miss SELECT through the proxy
//      and SET with a TTL),
//   3. update the user in a transaction, then invalidate the cache entry (DEL),
//   4. read again: a miss that loads the new value, then a hit.
// Prints each step; the last line is `RESULT {json}`; exit status 0 when every step did
// what it should.
//
//   eval "$(rdsbox env)" && (cd examples/node && npm ci && node reference_flow.js)
"use strict";

const { SecretsManagerClient, GetSecretValueCommand } = require("@aws-sdk/client-secrets-manager");
const Redis = require("ioredis");
const { Pool } = require("pg");

const CACHE_TTL_S = 600;

function env(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set; run: eval "$(rdsbox env)"`);
  }
  return value;
}

async function readSecret() {
  // The SDK reads AWS_ENDPOINT_URL, AWS_REGION and the access keys from the environment.
  const client = new SecretsManagerClient({});
  const answer = await client.send(new GetSecretValueCommand({ SecretId: env("DB_SECRET_ARN") }));
  return JSON.parse(answer.SecretString);
}

async function readUser(cache, db, id, reads) {
  const key = `user:${id}`;
  const cached = await cache.get(key);
  if (cached !== null) {
    reads.push("hit");
    console.log(`read user ${id}: cache hit`);
    return JSON.parse(cached);
  }
  const result = await db.query("SELECT id, name, email FROM example_users WHERE id = $1", [id]);
  const user = result.rows[0];
  await cache.set(key, JSON.stringify(user), "EX", CACHE_TTL_S);
  reads.push("miss");
  console.log(`read user ${id}: cache miss -> SELECT through the proxy -> SET ${key} (TTL ${CACHE_TTL_S} s)`);
  return user;
}

async function updateUser(db, cache, id, name) {
  const client = await db.connect();
  try {
    await client.query("BEGIN");
    await client.query("UPDATE example_users SET name = $1, updated_at = now() WHERE id = $2", [name, id]);
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK");
    throw err;
  } finally {
    client.release();
  }
  const removed = await cache.del(`user:${id}`);
  console.log(`update user ${id}: committed name=${JSON.stringify(name)}; invalidated user:${id} (DEL removed ${removed})`);
}

function check(condition, what) {
  if (!condition) {
    throw new Error(`check failed: ${what}`);
  }
}

async function main() {
  const secret = await readSecret();
  console.log(`secret ${env("DB_SECRET_ARN")}: user ${secret.username}, engine ${secret.engine}`);
  const db = new Pool({
    host: env("DB_PROXY_ENDPOINT"),
    port: Number(env("DB_PROXY_PORT")),
    database: env("DB_NAME"),
    user: secret.username,
    password: secret.password,
    max: 2,
  });
  const cache = new Redis({
    host: env("REDIS_HOST"),
    port: Number(env("REDIS_PORT")),
    password: env("REDIS_AUTH_TOKEN"),
    maxRetriesPerRequest: 1,
    // In-transit encryption: Node trusts the sandbox CA through NODE_EXTRA_CA_CERTS. The
    // pg Pool needs nothing: it reads PGSSLMODE (verify-full) from the environment.
    ...(process.env.REDIS_TLS === "1" ? { tls: {} } : {}),
  });
  try {
    await db.query(
      "CREATE TABLE IF NOT EXISTS example_users " +
        "(id bigserial PRIMARY KEY, name text NOT NULL, email text NOT NULL, updated_at timestamptz)",
    );
    const created = await db.query(
      "INSERT INTO example_users (name, email, updated_at) VALUES ($1, $2, now()) RETURNING id",
      ["Grace Hopper", "grace@example.com"],
    );
    const id = Number(created.rows[0].id);
    console.log(`created user ${id} through the proxy`);

    const reads = [];
    const first = await readUser(cache, db, id, reads);
    await readUser(cache, db, id, reads);
    await updateUser(db, cache, id, "Grace Brewster Hopper");
    await readUser(cache, db, id, reads);
    const last = await readUser(cache, db, id, reads);

    check(JSON.stringify(reads) === JSON.stringify(["miss", "hit", "miss", "hit"]), `reads ${reads}`);
    check(first.name === "Grace Hopper", "the first read returns the stored name");
    check(last.name === "Grace Brewster Hopper", "the read after the update returns the new name");
    console.log("RESULT " + JSON.stringify({ client: "node", user: id, reads, name: last.name }));
  } finally {
    cache.disconnect();
    await db.end();
  }
}

main().catch((err) => {
  console.error(`reference flow failed: ${err.message}`);
  process.exit(1);
});
