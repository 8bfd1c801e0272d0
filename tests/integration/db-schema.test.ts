// Drift test: the SQLite database that prisma/migrations produces must match the generated Prisma client, model by model
// and field by field (tables, columns, types, nullability, defaults, primary keys, unique and plain indexes with Prisma's
// names, foreign keys with their actions), with nothing extra. Also: the migration runner's bookkeeping.
//
// Where the DMMF comes from: `prisma generate` cannot describe the database here and @prisma/internals is not
// installed, but the prisma CLI ships Prisma's own schema parser as WebAssembly (node_modules/prisma/build/
// prisma_schema_build_bg.wasm, the module behind @prisma/internals' getDMMF). Its `get_dmmf` is called directly (four
// imports to provide), on the schema the generated client embeds (its `inlineSchema`) and on prisma/schema.prisma;
// the two must agree (else the client is stale), and the generated client's own model and field lists must match.
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { PrismaBetterSqlite3 } from "@prisma/adapter-better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Prisma, PrismaClient } from "../../server/db/generated/client";
import { databaseState, openDatabase, resolveDatabaseFile } from "../../server/db/client";
import { applyMigrations, DEFAULT_MIGRATIONS_DIR, listMigrations, sha256Hex } from "../../server/db/migrate";
import { applyPgMigrations, PG_MIGRATIONS_DIR } from "../../server/db/migrate-pg";
import { postgresqlSchema } from "../../scripts/prisma-generate.mjs";
import { freshPostgresDatabase } from "../helpers/postgres";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SCHEMA_FILE = path.join(ROOT, "prisma/schema.prisma");
const GENERATED_CLASS = path.join(ROOT, "server/db/generated/internal/class.ts");
const SCHEMA_WASM = path.join(ROOT, "node_modules/prisma/build/prisma_schema_build_bg.wasm");
const INIT = "20261128000000_init";
const PG_GENERATED_CLASS = path.join(ROOT, "server/db/generated-pg/internal/class.ts");
const PG_ALL = listMigrations(PG_MIGRATIONS_DIR).map((m) => m.name);
/** Every migration in prisma/migrations, in the order they apply. */
const ALL = listMigrations().map((m) => m.name);

// ---- Prisma's DMMF, from the schema parser the prisma CLI ships ----

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: "scalar" | "object" | "enum" | "unsupported";
  type: string;
  isList: boolean;
  isRequired: boolean;
  isUnique: boolean;
  isId: boolean;
  isUpdatedAt: boolean;
  hasDefaultValue: boolean;
  default?: unknown;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
  relationOnUpdate?: string;
}
interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
  primaryKey: { name: string | null; fields: string[] } | null;
  uniqueFields: string[][];
  uniqueIndexes: { name: string | null; fields: string[] }[];
}
interface DmmfIndex {
  model: string;
  type: "id" | "unique" | "normal" | "fulltext";
  dbName?: string | null;
  fields: { name: string }[];
}
interface Datamodel {
  models: DmmfModel[];
  indexes: DmmfIndex[];
}

interface SchemaWasm {
  memory: WebAssembly.Memory;
  __wbindgen_externrefs: WebAssembly.Table;
  __wbindgen_malloc(size: number, align: number): number;
  __wbindgen_free(ptr: number, size: number, align: number): void;
  __externref_table_dealloc(index: number): void;
  __wbindgen_start(): void;
  get_dmmf(ptr: number, len: number): [number, number, number, number];
}

function loadSchemaWasm(): (schema: string) => Datamodel {
  let wasm: SchemaWasm | undefined;
  const text = (ptr: number, len: number) => new TextDecoder().decode(new Uint8Array(wasm!.memory.buffer, ptr, len));
  const imports = {
    __wbindgen_placeholder__: {
      __wbg_set_message_f22ac4a6869ee695: (ptr: number, len: number) => {
        throw new Error(`prisma schema wasm panicked: ${text(ptr, len)}`);
      },
      __wbg_Error_e83987f665cf5504: (ptr: number, len: number) => new Error(text(ptr, len)),
      __wbg___wbindgen_throw_b855445ff6a94295: (ptr: number, len: number) => {
        throw new Error(text(ptr, len));
      },
      __wbindgen_init_externref_table: () => {
        const table = wasm!.__wbindgen_externrefs;
        const base = table.grow(4);
        table.set(0, undefined);
        table.set(base, undefined);
        table.set(base + 1, null);
        table.set(base + 2, true);
        table.set(base + 3, false);
      },
    },
  };
  const instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(SCHEMA_WASM)), imports);
  wasm = instance.exports as unknown as SchemaWasm;
  wasm.__wbindgen_start();
  const w = wasm;
  return (schema) => {
    const input = new TextEncoder().encode(JSON.stringify({ prismaSchema: [["schema.prisma", schema]], noColor: true }));
    const ptr = w.__wbindgen_malloc(input.length, 1);
    new Uint8Array(w.memory.buffer, ptr, input.length).set(input);
    const [outPtr, outLen, errRef, isErr] = w.get_dmmf(ptr, input.length);
    if (isErr) {
      const err: unknown = w.__wbindgen_externrefs.get(errRef);
      w.__externref_table_dealloc(errRef);
      throw err instanceof Error ? err : new Error(String(err));
    }
    try {
      return (JSON.parse(text(outPtr, outLen)) as { datamodel: Datamodel }).datamodel;
    } finally {
      w.__wbindgen_free(outPtr, outLen, 1);
    }
  };
}

/** The schema the generated client was generated from (formatted by Prisma), as class.ts embeds it. */
function generatedInlineSchema(file = GENERATED_CLASS): string {
  const source = readFileSync(file, "utf8");
  const m = /^\s*"inlineSchema":\s*("(?:[^"\\]|\\.)*")/m.exec(source);
  if (!m?.[1]) throw new Error(`no inlineSchema in ${file}: has the generated client's layout changed?`);
  return JSON.parse(m[1]) as string;
}

// ---- what Prisma's SQLite connector emits for a datamodel ----

const SQLITE_TYPE: Record<string, string> = {
  String: "TEXT",
  Int: "INTEGER",
  BigInt: "BIGINT",
  Float: "REAL",
  Decimal: "DECIMAL",
  Boolean: "BOOLEAN",
  DateTime: "DATETIME",
  Bytes: "BLOB",
  Json: "JSONB",
};

/** SQLite's type affinity rules (https://sqlite.org/datatype3.html §3.1), for readable messages. */
function affinity(declared: string): string {
  const t = declared.toUpperCase();
  if (t.includes("INT")) return "INTEGER";
  if (/CHAR|CLOB|TEXT/.test(t)) return "TEXT";
  if (t === "" || t.includes("BLOB")) return "BLOB";
  if (/REAL|FLOA|DOUB/.test(t)) return "REAL";
  return "NUMERIC";
}

const ACTION: Record<string, string> = {
  Cascade: "CASCADE",
  Restrict: "RESTRICT",
  NoAction: "NO ACTION",
  SetNull: "SET NULL",
  SetDefault: "SET DEFAULT",
};

/** The column default Prisma writes for a field, as PRAGMA table_info reports it (null: none in the database). */
function expectedDefault(f: DmmfField): string | null {
  if (!f.hasDefaultValue || f.default === undefined) return null;
  const d = f.default;
  if (typeof d === "object" && d !== null && "name" in d) {
    if ((d as { name: string }).name === "now") return "CURRENT_TIMESTAMP";
    return null; // uuid(), cuid(), autoincrement(): made by the client or the rowid, not a column default
  }
  if (typeof d === "string") return `'${d.replace(/'/g, "''")}'`;
  return String(d);
}

const tableName = (m: DmmfModel) => m.dbName ?? m.name;
const columnName = (f: DmmfField) => f.dbName ?? f.name;
const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** A database's tables as both dialects' catalogs describe them, in one shape, so one comparison serves both. */
interface Introspected {
  dialect: "SQLite" | "PostgreSQL";
  tables: Map<
    string,
    {
      /** Columns with their declared type, nullability, default (as the catalog prints it) and primary key position (0: none). */
      columns: { name: string; type: string; notNull: boolean; dflt: string | null; pk: number }[];
      indexes: { name: string; unique: boolean; columns: string[] }[];
      foreignKeys: { table: string; from: string[]; to: string[]; onDelete: string; onUpdate: string }[];
    }
  >;
}

function introspectSqlite(dbFile: string): Introspected {
  const db = new Database(dbFile, { readonly: true });
  try {
    const names = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[])
      .map((r) => r.name)
      .filter((n) => !n.startsWith("sqlite_") && n !== "_prisma_migrations");
    const tables: Introspected["tables"] = new Map();
    for (const t of names) {
      const columns = (
        db.pragma(`table_xinfo(${q(t)})`) as { name: string; type: string; notnull: number; dflt_value: string | null; pk: number; hidden: number }[]
      )
        .filter((c) => c.hidden === 0)
        .map((c) => ({ name: c.name, type: c.type.toUpperCase(), notNull: c.notnull === 1, dflt: c.dflt_value ?? null, pk: c.pk }));
      const indexes = (db.pragma(`index_list(${q(t)})`) as { name: string; unique: number; origin: string }[])
        .filter((i) => i.origin !== "pk")
        .map((i) => ({ name: i.name, unique: i.unique === 1, columns: (db.pragma(`index_info(${q(i.name)})`) as { name: string }[]).map((c) => c.name) }));
      const rows = db.pragma(`foreign_key_list(${q(t)})`) as { id: number; table: string; from: string; to: string; on_update: string; on_delete: string }[];
      const byId = new Map<number, typeof rows>();
      for (const r of rows) byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
      const foreignKeys = [...byId.values()].map((fk) => ({
        table: fk[0]!.table,
        from: fk.map((r) => r.from),
        to: fk.map((r) => r.to),
        onDelete: fk[0]!.on_delete,
        onUpdate: fk[0]!.on_update,
      }));
      tables.set(t, { columns, indexes, foreignKeys });
    }
    return { dialect: "SQLite", tables };
  } finally {
    db.close();
  }
}

const PG_ACTION: Record<string, string> = { a: "NO ACTION", r: "RESTRICT", c: "CASCADE", n: "SET NULL", d: "SET DEFAULT" };

async function introspectPostgres(url: string): Promise<Introspected> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const names = (
      await db.query<{ relname: string }>(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> '_prisma_migrations' ORDER BY c.relname`)
    ).rows.map((r) => r.relname);
    const tables: Introspected["tables"] = new Map();
    for (const t of names) {
      const oid = `'public.${q(t)}'::regclass`;
      const pkCols = (
        await db.query<{ attname: string }>(`SELECT a.attname FROM pg_index i, unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attnum = k.attnum WHERE i.indrelid = ${oid} AND i.indisprimary AND a.attrelid = ${oid} ORDER BY k.ord`)
      ).rows.map((r) => r.attname);
      const columns = (
        await db.query<{
          name: string;
          type: string;
          notnull: boolean;
          dflt: string | null;
        }>(`SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
           a.attnotnull AS notnull, pg_get_expr(d.adbin, d.adrelid) AS dflt
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attrelid = ${oid} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`)
      ).rows.map((c) => ({ name: c.name, type: c.type.toUpperCase(), notNull: c.notnull, dflt: c.dflt, pk: pkCols.indexOf(c.name) + 1 }));
      const indexRows = (
        await db.query<{ name: string; unique: boolean; attname: string }>(`SELECT ic.relname AS name, i.indisunique AS unique, a.attname
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid, unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attnum = k.attnum
         WHERE i.indrelid = ${oid} AND NOT i.indisprimary AND a.attrelid = ${oid} ORDER BY ic.relname, k.ord`)
      ).rows;
      const indexes: Introspected["tables"] extends Map<string, infer T> ? (T extends { indexes: infer I } ? I : never) : never = [];
      for (const r of indexRows) {
        const ix = indexes.find((i) => i.name === r.name);
        if (ix) ix.columns.push(r.attname);
        else indexes.push({ name: r.name, unique: r.unique, columns: [r.attname] });
      }
      const foreignKeys = (
        await db.query<{ target: string; from: string[]; to: string[]; del: string; upd: string }>(`SELECT tc.relname AS target,
           ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o) AS "from",
           ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o) AS "to",
           c.confdeltype AS del, c.confupdtype AS upd
         FROM pg_constraint c JOIN pg_class tc ON tc.oid = c.confrelid WHERE c.conrelid = ${oid} AND c.contype = 'f'`)
      ).rows.map((r) => ({ table: r.target, from: r.from, to: r.to, onDelete: PG_ACTION[r.del]!, onUpdate: PG_ACTION[r.upd]! }));
      tables.set(t, { columns, indexes, foreignKeys });
    }
    return { dialect: "PostgreSQL", tables };
  } finally {
    await db.end();
  }
}

const PG_TYPE: Record<string, string> = {
  String: "TEXT",
  Int: "INTEGER",
  BigInt: "BIGINT",
  Float: "DOUBLE PRECISION",
  Decimal: "NUMERIC(65,30)",
  Boolean: "BOOLEAN",
  DateTime: "TIMESTAMP(3) WITHOUT TIME ZONE",
  Bytes: "BYTEA",
  Json: "JSONB",
};

/** The column default Prisma's PostgreSQL connector writes, as pg_get_expr prints it (null: none). */
function expectedPgDefault(f: DmmfField): string | null {
  const d = expectedDefault(f);
  if (d === null || typeof f.default !== "string") return d;
  return `${d}::text`;
}

/** Every difference between the database and the datamodel, as readable lines; empty when they match. */
function schemaProblems(db: Introspected, dm: Datamodel): string[] {
  const problems: string[] = [];
  const D = db.dialect;
  const tables = [...db.tables.keys()];
  const modelByTable = new Map(dm.models.map((m) => [tableName(m), m]));
  for (const t of tables) if (!modelByTable.has(t)) problems.push(`table ${t} exists in ${D} but no model maps to it`);

  for (const model of dm.models) {
    const table = tableName(model);
    const info = db.tables.get(table);
    if (!info) {
      problems.push(`model ${model.name}: table ${table} is missing`);
      continue;
    }
    const columns = info.columns;
    const scalars = model.fields.filter((f) => f.kind === "scalar" || f.kind === "enum");
    const byColumn = new Map(scalars.map((f) => [columnName(f), f]));
    for (const c of columns) {
      if (!byColumn.has(c.name)) problems.push(`${table}.${c.name}: column exists in ${D} but model ${model.name} has no such field`);
    }

    // Columns: type, nullability, default, primary key membership (and order).
    const pkFields = model.primaryKey?.fields ?? scalars.filter((f) => f.isId).map((f) => f.name);
    const pkColumns = pkFields.map((n) => columnName(scalars.find((f) => f.name === n)!));
    for (const f of scalars) {
      const col = columns.find((c) => c.name === columnName(f));
      const where = `${model.name}.${f.name}`;
      if (!col) {
        problems.push(`${where}: column ${table}.${columnName(f)} is missing`);
        continue;
      }
      const expectedType = f.kind === "enum" ? "TEXT" : (D === "SQLite" ? SQLITE_TYPE : PG_TYPE)[f.type];
      if (expectedType === undefined) problems.push(`${where}: no known ${D} type for Prisma type ${f.type}`);
      else if (col.type !== expectedType) {
        problems.push(
          D === "SQLite"
            ? `${where}: column type ${col.type} (affinity ${affinity(col.type)}), expected ${expectedType} (affinity ${affinity(expectedType)}) for ${f.type}`
            : `${where}: column type ${col.type}, expected ${expectedType} for ${f.type}`,
        );
      }
      if (col.notNull !== f.isRequired) {
        problems.push(`${where}: column is ${col.notNull ? "NOT NULL" : "nullable"}, the field is ${f.isRequired ? "required" : "optional"}`);
      }
      const pkPosition = pkColumns.indexOf(col.name) + 1;
      if (col.pk !== pkPosition) {
        problems.push(
          pkPosition === 0
            ? `${where}: column is part of the primary key, the field is not`
            : `${where}: the field is primary key column ${pkPosition} of (${pkColumns.join(", ")}), the column is ${col.pk === 0 ? "not in the primary key" : `at position ${col.pk}`}`,
        );
      }
      const dflt = D === "SQLite" ? expectedDefault(f) : expectedPgDefault(f);
      if (col.dflt !== dflt) problems.push(`${where}: column default ${String(col.dflt)}, expected ${String(dflt)}`);
    }

    // Indexes: unique (@unique, @@unique) and plain (@@index), under Prisma's names, with nothing extra.
    const expectedIndexes = new Map<string, { unique: boolean; columns: string[] }>();
    const colsOf = (fields: string[]) => fields.map((n) => columnName(scalars.find((f) => f.name === n) ?? ({ name: n } as DmmfField)));
    for (const ix of dm.indexes.filter((i) => i.model === model.name)) {
      if (ix.type === "id") continue;
      const cols = colsOf(ix.fields.map((x) => x.name));
      const name = ix.dbName ?? `${table}_${cols.join("_")}_${ix.type === "unique" ? "key" : "idx"}`;
      expectedIndexes.set(name, { unique: ix.type === "unique", columns: cols });
    }
    // Cross-check with the model's own unique lists (the indexes list above is the newer DMMF field).
    for (const fields of [...scalars.filter((f) => f.isUnique).map((f) => [f.name]), ...model.uniqueFields]) {
      const cols = colsOf(fields);
      if (![...expectedIndexes.values()].some((e) => e.unique && e.columns.join() === cols.join())) {
        expectedIndexes.set(`${table}_${cols.join("_")}_key`, { unique: true, columns: cols });
      }
    }
    for (const [name, want] of expectedIndexes) {
      const got = info.indexes.find((i) => i.name === name);
      if (!got) {
        problems.push(`${model.name}: ${want.unique ? "unique " : ""}index ${name} on (${want.columns.join(", ")}) is missing`);
        continue;
      }
      if (got.columns.join() !== want.columns.join())
        problems.push(`${model.name}: index ${name} is on (${got.columns.join(", ")}), expected (${want.columns.join(", ")})`);
      if (got.unique !== want.unique)
        problems.push(`${model.name}: index ${name} is ${got.unique ? "" : "not "}unique, expected ${want.unique ? "" : "not "}unique`);
    }
    for (const got of info.indexes) {
      if (!expectedIndexes.has(got.name)) problems.push(`${model.name}: index ${got.name} exists in ${D} but not in the model`);
    }

    // Foreign keys: one per relation field that holds the scalar side, with Prisma's referential actions.
    const matched = new Set<number>();
    for (const rel of model.fields.filter((f) => f.kind === "object" && (f.relationFromFields?.length ?? 0) > 0)) {
      const target = dm.models.find((m) => m.name === rel.type)!;
      const from = colsOf(rel.relationFromFields!);
      const to = (rel.relationToFields ?? []).map((n) => columnName(target.fields.find((f) => f.name === n)!));
      const requiredFk = rel.relationFromFields!.some((n) => scalars.find((f) => f.name === n)?.isRequired);
      const onDelete = ACTION[rel.relationOnDelete ?? (requiredFk ? "Restrict" : "SetNull")];
      const onUpdate = ACTION[rel.relationOnUpdate ?? "Cascade"];
      const where = `${model.name}.${rel.name}`;
      const hit = info.foreignKeys.findIndex((fk) => fk.table === tableName(target) && fk.from.join() === from.join() && fk.to.join() === to.join());
      if (hit < 0) {
        problems.push(`${where}: foreign key (${from.join(", ")}) → ${tableName(target)}(${to.join(", ")}) is missing`);
        continue;
      }
      matched.add(hit);
      const fk = info.foreignKeys[hit]!;
      if (fk.onDelete !== onDelete) problems.push(`${where}: foreign key ON DELETE ${fk.onDelete}, expected ${onDelete}`);
      if (fk.onUpdate !== onUpdate) problems.push(`${where}: foreign key ON UPDATE ${fk.onUpdate}, expected ${onUpdate}`);
    }
    info.foreignKeys.forEach((fk, i) => {
      if (!matched.has(i)) problems.push(`${table}: foreign key (${fk.from.join(", ")}) → ${fk.table} exists in ${D} but not in the model`);
    });
  }
  return problems;
}

// ---- the tests ----

let tmp: string;
let getDmmf: (schema: string) => Datamodel;
let schemaText: string;
let datamodel: Datamodel;
let migratedFile: string;

beforeAll(() => {
  tmp = mkdtempSync(path.join(tmpdir(), "gan-db-schema-"));
  getDmmf = loadSchemaWasm();
  schemaText = readFileSync(SCHEMA_FILE, "utf8");
  datamodel = getDmmf(schemaText);
  migratedFile = path.join(tmp, "fresh", "app.db");
  applyMigrations(migratedFile);
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** A copy of the project's migrations folder, to edit. */
function copyMigrations(name: string): string {
  const dir = path.join(tmp, name, "migrations");
  mkdirSync(path.dirname(dir), { recursive: true });
  cpSync(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

describe("the generated client and prisma/schema.prisma", () => {
  it("the generated client was generated from the current schema (else: npm run db:generate)", () => {
    expect(getDmmf(generatedInlineSchema())).toEqual(datamodel);
  });

  it("the generated client's models and scalar fields are the DMMF's", () => {
    const enums = Prisma as unknown as Record<string, Record<string, string> | undefined>;
    expect(Object.keys(Prisma.ModelName).sort()).toEqual(datamodel.models.map((m) => m.name).sort());
    for (const model of datamodel.models) {
      const fromClient = Object.values(enums[`${model.name}ScalarFieldEnum`] ?? {});
      const fromDmmf = model.fields.filter((f) => f.kind === "scalar" || f.kind === "enum").map((f) => f.name);
      expect(fromClient, model.name).toEqual(fromDmmf);
    }
  });
});

describe("the migrated database matches the datamodel", () => {
  it("every model and field: tables, columns, types, nullability, defaults, keys, indexes, foreign keys; nothing extra", () => {
    expect(datamodel.models.length).toBeGreaterThanOrEqual(9);
    expect(schemaProblems(introspectSqlite(migratedFile), datamodel)).toEqual([]);
  });

  it("fails, naming the column, when migration.sql drops a column", () => {
    const dir = copyMigrations("dropped-column");
    const sqlFile = path.join(dir, INIT, "migration.sql");
    const sql = readFileSync(sqlFile, "utf8");
    const edited = sql.replace(`    "msPerIter" REAL NOT NULL,\n`, "");
    expect(edited).not.toBe(sql);
    writeFileSync(sqlFile, edited);
    const file = path.join(tmp, "dropped-column", "app.db");
    applyMigrations(file, dir);
    expect(schemaProblems(introspectSqlite(file), datamodel)).toEqual(["MetricPoint.msPerIter: column MetricPoint.msPerIter is missing"]);
  });

  it("fails, naming the field, when the schema gains a field, a unique constraint or another referential action", () => {
    const added = schemaText.replace("  failureReason      String?\n", "  failureReason      String?\n  seed               Int\n");
    expect(added).not.toBe(schemaText);
    expect(schemaProblems(introspectSqlite(migratedFile), getDmmf(added))).toEqual(["Run.seed: column Run.seed is missing"]);

    const unique = schemaText.replace("  name         String\n  passwordHash", "  name         String       @unique\n  passwordHash");
    expect(unique).not.toBe(schemaText);
    expect(schemaProblems(introspectSqlite(migratedFile), getDmmf(unique))).toEqual(["User: unique index User_name_key on (name) is missing"]);

    const action = schemaText.replace(
      "createdBy   User            @relation(fields: [createdById], references: [id])",
      "createdBy   User            @relation(fields: [createdById], references: [id], onDelete: Cascade)",
    );
    expect(action).not.toBe(schemaText);
    expect(schemaProblems(introspectSqlite(migratedFile), getDmmf(action))).toEqual(["Invite.createdBy: foreign key ON DELETE RESTRICT, expected CASCADE"]);
  });

  it("fails when SQLite has a column, an index or a table the schema lacks, or a column's type or nullability differs", () => {
    const file = path.join(tmp, "extras.db");
    copyFileSync(migratedFile, file);
    const db = new Database(file);
    db.exec(`ALTER TABLE "User" ADD COLUMN "nickname" TEXT`);
    db.exec(`CREATE INDEX "Run_status_idx" ON "Run"("status")`);
    db.exec(`CREATE TABLE "Stray" ("id" TEXT NOT NULL PRIMARY KEY)`);
    db.close();
    expect(schemaProblems(introspectSqlite(file), datamodel)).toEqual([
      "table Stray exists in SQLite but no model maps to it",
      "User.nickname: column exists in SQLite but model User has no such field",
      "Run: index Run_status_idx exists in SQLite but not in the model",
    ]);

    const changed = schemaText.replace("  epoch     Float\n", "  epoch     Int\n").replace("  iteration Int?\n", "  iteration Int\n");
    expect(schemaProblems(introspectSqlite(migratedFile), getDmmf(changed))).toEqual([
      "Checkpoint.epoch: column type REAL (affinity REAL), expected INTEGER (affinity INTEGER) for Int",
      "ActivityEntry.iteration: column is nullable, the field is required",
    ]);
  });
});

describe("applyMigrations", () => {
  it("applies the init migration once, records it like Prisma does, and switches the file to WAL", () => {
    const file = path.join(tmp, "nested", "deeper", "once.db");
    expect(applyMigrations(file)).toEqual({ applied: ALL });
    expect(applyMigrations(file)).toEqual({ applied: [] });

    const db = new Database(file, { readonly: true });
    const rows = db.prepare(`SELECT * FROM "_prisma_migrations"`).all() as Record<string, unknown>[];
    const columns = db.pragma(`table_info("_prisma_migrations")`) as { name: string; type: string; notnull: number; pk: number }[];
    const mode = db.pragma("journal_mode", { simple: true });
    db.close();
    expect(mode).toBe("wal");
    expect(columns.map((c) => [c.name, c.type, c.notnull, c.pk])).toEqual([
      ["id", "TEXT", 1, 1],
      ["checksum", "TEXT", 1, 0],
      ["finished_at", "DATETIME", 0, 0],
      ["migration_name", "TEXT", 1, 0],
      ["logs", "TEXT", 0, 0],
      ["rolled_back_at", "DATETIME", 0, 0],
      ["started_at", "DATETIME", 1, 0],
      ["applied_steps_count", "INTEGER UNSIGNED", 1, 0],
    ]);
    expect(rows).toHaveLength(ALL.length);
    const row = rows.find((r) => r.migration_name === INIT)!;
    const sha = sha256Hex(readFileSync(path.join(DEFAULT_MIGRATIONS_DIR, INIT, "migration.sql")));
    expect(row.checksum).toBe(sha);
    expect(listMigrations()[0]?.checksum).toBe(sha);
    expect(row.migration_name).toBe(INIT);
    expect(row.finished_at).not.toBeNull();
    expect(row.rolled_back_at).toBeNull();
    expect(row.applied_steps_count).toBe(1);
    expect(row.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("refuses an applied migration whose migration.sql changed, naming it, and applies nothing", () => {
    const dir = copyMigrations("edited");
    const file = path.join(tmp, "edited", "app.db");
    expect(applyMigrations(file, dir).applied).toEqual(ALL);
    const sqlFile = path.join(dir, INIT, "migration.sql");
    writeFileSync(sqlFile, `${readFileSync(sqlFile, "utf8")}\n-- an edit after the fact\n`);
    expect(() => applyMigrations(file, dir)).toThrow(new RegExp(`migration ${INIT} was already applied.*has changed`));
  });

  it("applies a new migration in order and rolls a failing one back entirely, naming it", () => {
    const dir = copyMigrations("later");
    const file = path.join(tmp, "later", "app.db");
    expect(applyMigrations(file, dir).applied).toEqual(ALL);
    mkdirSync(path.join(dir, "20261201000000_add_note"));
    writeFileSync(path.join(dir, "20261201000000_add_note", "migration.sql"), `CREATE TABLE "Note" ("id" TEXT NOT NULL PRIMARY KEY);\n`);
    mkdirSync(path.join(dir, "20261202000000_broken"));
    writeFileSync(
      path.join(dir, "20261202000000_broken", "migration.sql"),
      `CREATE TABLE "Half" ("id" TEXT NOT NULL PRIMARY KEY);\nINSERT INTO "NoSuchTable" VALUES (1);\n`,
    );
    expect(() => applyMigrations(file, dir)).toThrow(/migration 20261202000000_broken failed and was rolled back: no such table: NoSuchTable/);
    const db = new Database(file, { readonly: true });
    const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map((r) => r.name);
    const names = (db.prepare(`SELECT migration_name FROM "_prisma_migrations" ORDER BY migration_name`).all() as { migration_name: string }[]).map(
      (r) => r.migration_name,
    );
    db.close();
    expect(tables).toContain("Note");
    expect(tables).not.toContain("Half");
    expect(names).toEqual([...ALL, "20261201000000_add_note"]);
  });
});

describe("openDatabase and databaseState", () => {
  it("resolves file: URLs and plain paths against the working directory", () => {
    expect(resolveDatabaseFile("file:./data/app.db")).toBe(path.resolve(process.cwd(), "data/app.db"));
    expect(resolveDatabaseFile("data/app.db")).toBe(path.resolve(process.cwd(), "data/app.db"));
    expect(resolveDatabaseFile("file:/srv/app.db?connection_limit=1")).toBe("/srv/app.db");
    expect(resolveDatabaseFile("file:///srv/app.db")).toBe("/srv/app.db");
    expect(() => resolveDatabaseFile(":memory:")).toThrow(/in-memory/);
  });

  it("migrates, opens a client, and reports its state", async () => {
    const file = path.join(tmp, "opened", "app.db");
    const opened = await openDatabase(`file:${file}`);
    try {
      expect(opened.file).toBe(file);
      expect(opened.applied).toEqual(ALL);
      expect(await databaseState(opened.prisma)).toEqual({ ok: true, migrations: ALL.length });
    } finally {
      await opened.prisma.$disconnect();
    }
    const again = await openDatabase(file);
    expect(again.applied).toEqual([]);
    await again.prisma.$disconnect();

    // A database nobody migrated answers SELECT 1 but has no _prisma_migrations: not ok, with the reason.
    const bare = new PrismaClient({ adapter: new PrismaBetterSqlite3({ url: path.join(tmp, "bare.db") }) });
    try {
      const state = await databaseState(bare);
      expect(state.ok).toBe(false);
      expect(state.ok ? "" : state.error).toMatch(/_prisma_migrations/);
    } finally {
      await bare.$disconnect();
    }
  });
});

describe("PostgreSQL: the same datamodel, its own migrations", () => {
  let url: string;
  beforeAll(async () => {
    url = await freshPostgresDatabase("schema");
    await applyPgMigrations(url);
  });

  it("the PostgreSQL client was generated from prisma/schema.prisma with only the provider changed (else: npm run db:generate)", () => {
    expect(getDmmf(generatedInlineSchema(PG_GENERATED_CLASS))).toEqual(getDmmf(postgresqlSchema(schemaText)));
    // The same models and fields as the SQLite client's: one schema, two providers.
    expect(getDmmf(postgresqlSchema(schemaText)).models).toEqual(datamodel.models);
  });

  it("every model and field of the migrated PostgreSQL database matches the datamodel; nothing extra", async () => {
    expect(schemaProblems(await introspectPostgres(url), datamodel)).toEqual([]);
  });

  it("fails, naming what differs, when PostgreSQL has a column, an index or a table the schema lacks, or a type differs", async () => {
    const other = await freshPostgresDatabase("schema_extras");
    await applyPgMigrations(other);
    const db = new pg.Client({ connectionString: other });
    await db.connect();
    await db.query(`ALTER TABLE "User" ADD COLUMN "nickname" TEXT`);
    await db.query(`CREATE INDEX "Run_status_idx" ON "Run"("status")`);
    await db.query(`CREATE TABLE "Stray" ("id" TEXT NOT NULL PRIMARY KEY)`);
    await db.query(`ALTER TABLE "Checkpoint" ALTER COLUMN "epoch" TYPE REAL`);
    await db.query(`ALTER TABLE "Invite" DROP CONSTRAINT "Invite_createdById_fkey"`);
    await db.query(`ALTER TABLE "Invite" ADD CONSTRAINT "Invite_createdById_fkey" FOREIGN KEY ("createdById") REFERENCES "User"("id") ON DELETE CASCADE`);
    await db.end();
    expect(schemaProblems(await introspectPostgres(other), datamodel).sort()).toEqual(
      [
        "table Stray exists in PostgreSQL but no model maps to it",
        "User.nickname: column exists in PostgreSQL but model User has no such field",
        "Run: index Run_status_idx exists in PostgreSQL but not in the model",
        "Checkpoint.epoch: column type REAL, expected DOUBLE PRECISION for Float",
        "Invite.createdBy: foreign key ON DELETE CASCADE, expected RESTRICT",
        "Invite.createdBy: foreign key ON UPDATE NO ACTION, expected CASCADE",
      ].sort(),
    );
  });

  it("applies once, records like Prisma, refuses an edited migration, rolls a failing one back; two at once apply it once", async () => {
    const dir = path.join(tmp, "pg-migrations");
    cpSync(PG_MIGRATIONS_DIR, dir, { recursive: true });
    const target = await freshPostgresDatabase("migrations");
    // Two processes starting at once (a cluster): the advisory lock lets one apply, the other finds it done.
    const both = await Promise.all([applyPgMigrations(target, dir), applyPgMigrations(target, dir)]);
    expect(both.map((r) => r.applied).sort((a, b) => b.length - a.length)).toEqual([PG_ALL, []]);
    expect(await applyPgMigrations(target, dir)).toEqual({ applied: [] });

    mkdirSync(path.join(dir, "20271201000000_broken"));
    writeFileSync(
      path.join(dir, "20271201000000_broken", "migration.sql"),
      `CREATE TABLE "Half" ("id" TEXT PRIMARY KEY);
INSERT INTO "NoSuchTable" VALUES (1);
`,
    );
    await expect(applyPgMigrations(target, dir)).rejects.toThrow(/migration 20271201000000_broken failed and was rolled back: .*"NoSuchTable" does not exist/);
    const db = new pg.Client({ connectionString: target });
    await db.connect();
    const half = await db.query(`SELECT to_regclass('public."Half"') AS t`);
    const rows = await db.query(`SELECT migration_name, checksum, finished_at IS NOT NULL AS done FROM "_prisma_migrations" ORDER BY migration_name`);
    await db.end();
    expect(half.rows[0].t).toBeNull();
    expect(rows.rows).toEqual(
      PG_ALL.map((name) => ({ migration_name: name, checksum: sha256Hex(readFileSync(path.join(PG_MIGRATIONS_DIR, name, "migration.sql"))), done: true })),
    );

    rmSync(path.join(dir, "20271201000000_broken"), { recursive: true });
    const sqlFile = path.join(dir, PG_ALL[0]!, "migration.sql");
    writeFileSync(sqlFile, `${readFileSync(sqlFile, "utf8")}\n-- an edit after the fact\n`);
    await expect(applyPgMigrations(target, dir)).rejects.toThrow(new RegExp(`migration ${PG_ALL[0]} was already applied.*has changed`));
  });

  it("openDatabase on a postgresql:// URL migrates and opens it; an unreachable one is refused with the URL named, password hidden", async () => {
    const target = await freshPostgresDatabase("open");
    const opened = await openDatabase(target);
    try {
      expect([opened.kind, opened.file, opened.applied]).toEqual(["postgresql", null, PG_ALL]);
      expect(await databaseState(opened.prisma)).toEqual({ ok: true, migrations: PG_ALL.length });
    } finally {
      await opened.prisma.$disconnect();
    }
    const port = new URL(target).port;
    await expect(openDatabase(`postgresql://gan:s3cret@127.0.0.1:1/gan`)).rejects.toThrow(
      /DATABASE_URL postgresql:\/\/gan:\*\*\*@127\.0\.0\.1:1\/gan: cannot connect to PostgreSQL/,
    );
    await expect(openDatabase(`postgresql://gan@127.0.0.1:${port}/no_such_database`)).rejects.toThrow(/no_such_database.*does not exist/);
    await expect(openDatabase("mysql://root@127.0.0.1/gan")).rejects.toThrow(/"mysql" is not a database GAN Studio runs on/);
  });
});
