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
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Prisma, PrismaClient } from "../../server/db/generated/client";
import { databaseState, openDatabase, resolveDatabaseFile } from "../../server/db/client";
import { applyMigrations, DEFAULT_MIGRATIONS_DIR, listMigrations, sha256Hex } from "../../server/db/migrate";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SCHEMA_FILE = path.join(ROOT, "prisma/schema.prisma");
const GENERATED_CLASS = path.join(ROOT, "server/db/generated/internal/class.ts");
const SCHEMA_WASM = path.join(ROOT, "node_modules/prisma/build/prisma_schema_build_bg.wasm");
const INIT = "20261128000000_init";
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
function generatedInlineSchema(): string {
  const source = readFileSync(GENERATED_CLASS, "utf8");
  const m = /^\s*"inlineSchema":\s*("(?:[^"\\]|\\.)*")/m.exec(source);
  if (!m?.[1]) throw new Error(`no inlineSchema in ${GENERATED_CLASS}: has the generated client's layout changed?`);
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

interface ColumnInfo {
  name: string;
  type: string;
  notnull: number;
  dflt_value: string | null;
  pk: number;
  hidden: number;
}
interface IndexListRow {
  name: string;
  unique: number;
  origin: string;
}
interface ForeignKeyRow {
  id: number;
  seq: number;
  table: string;
  from: string;
  to: string;
  on_update: string;
  on_delete: string;
}

/** Every difference between the database file and the datamodel, as readable lines; empty when they match. */
function schemaProblems(dbFile: string, dm: Datamodel): string[] {
  const problems: string[] = [];
  const db = new Database(dbFile, { readonly: true });
  try {
    const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[])
      .map((r) => r.name)
      .filter((n) => !n.startsWith("sqlite_") && n !== "_prisma_migrations");
    const modelByTable = new Map(dm.models.map((m) => [tableName(m), m]));
    for (const t of tables) if (!modelByTable.has(t)) problems.push(`table ${t} exists in SQLite but no model maps to it`);

    for (const model of dm.models) {
      const table = tableName(model);
      if (!tables.includes(table)) {
        problems.push(`model ${model.name}: table ${table} is missing`);
        continue;
      }
      const columns = (db.pragma(`table_xinfo(${q(table)})`) as ColumnInfo[]).filter((c) => c.hidden === 0);
      const scalars = model.fields.filter((f) => f.kind === "scalar" || f.kind === "enum");
      const byColumn = new Map(scalars.map((f) => [columnName(f), f]));
      for (const c of columns) {
        if (!byColumn.has(c.name)) problems.push(`${table}.${c.name}: column exists in SQLite but model ${model.name} has no such field`);
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
        const expectedType = f.kind === "enum" ? "TEXT" : SQLITE_TYPE[f.type];
        if (expectedType === undefined) problems.push(`${where}: no known SQLite type for Prisma type ${f.type}`);
        else if (col.type.toUpperCase() !== expectedType) {
          problems.push(
            `${where}: column type ${col.type} (affinity ${affinity(col.type)}), expected ${expectedType} (affinity ${affinity(expectedType)}) for ${f.type}`,
          );
        }
        if ((col.notnull === 1) !== f.isRequired) {
          problems.push(`${where}: column is ${col.notnull ? "NOT NULL" : "nullable"}, the field is ${f.isRequired ? "required" : "optional"}`);
        }
        const pkPosition = pkColumns.indexOf(col.name) + 1;
        if (col.pk !== pkPosition) {
          problems.push(
            pkPosition === 0
              ? `${where}: column is part of the primary key, the field is not`
              : `${where}: the field is primary key column ${pkPosition} of (${pkColumns.join(", ")}), the column is ${col.pk === 0 ? "not in the primary key" : `at position ${col.pk}`}`,
          );
        }
        const dflt = expectedDefault(f);
        if ((col.dflt_value ?? null) !== dflt) {
          problems.push(`${where}: column default ${String(col.dflt_value)}, expected ${String(dflt)}`);
        }
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
      const actualIndexes = (db.pragma(`index_list(${q(table)})`) as IndexListRow[]).filter((i) => i.origin !== "pk");
      for (const [name, want] of expectedIndexes) {
        const got = actualIndexes.find((i) => i.name === name);
        if (!got) {
          problems.push(`${model.name}: ${want.unique ? "unique " : ""}index ${name} on (${want.columns.join(", ")}) is missing`);
          continue;
        }
        const cols = (db.pragma(`index_info(${q(name)})`) as { name: string }[]).map((c) => c.name);
        if (cols.join() !== want.columns.join())
          problems.push(`${model.name}: index ${name} is on (${cols.join(", ")}), expected (${want.columns.join(", ")})`);
        if ((got.unique === 1) !== want.unique)
          problems.push(`${model.name}: index ${name} is ${got.unique ? "" : "not "}unique, expected ${want.unique ? "" : "not "}unique`);
      }
      for (const got of actualIndexes) {
        if (!expectedIndexes.has(got.name)) problems.push(`${model.name}: index ${got.name} exists in SQLite but not in the model`);
      }

      // Foreign keys: one per relation field that holds the scalar side, with Prisma's referential actions.
      const fkRows = db.pragma(`foreign_key_list(${q(table)})`) as ForeignKeyRow[];
      const actualFks = new Map<number, ForeignKeyRow[]>();
      for (const r of fkRows) actualFks.set(r.id, [...(actualFks.get(r.id) ?? []), r]);
      const matched = new Set<number>();
      for (const rel of model.fields.filter((f) => f.kind === "object" && (f.relationFromFields?.length ?? 0) > 0)) {
        const target = dm.models.find((m) => m.name === rel.type)!;
        const from = colsOf(rel.relationFromFields!);
        const to = (rel.relationToFields ?? []).map((n) => columnName(target.fields.find((f) => f.name === n)!));
        const requiredFk = rel.relationFromFields!.some((n) => scalars.find((f) => f.name === n)?.isRequired);
        const onDelete = ACTION[rel.relationOnDelete ?? (requiredFk ? "Restrict" : "SetNull")];
        const onUpdate = ACTION[rel.relationOnUpdate ?? "Cascade"];
        const where = `${model.name}.${rel.name}`;
        const hit = [...actualFks.entries()].find(
          ([, rows]) => rows[0]!.table === tableName(target) && rows.map((r) => r.from).join() === from.join() && rows.map((r) => r.to).join() === to.join(),
        );
        if (!hit) {
          problems.push(`${where}: foreign key (${from.join(", ")}) → ${tableName(target)}(${to.join(", ")}) is missing`);
          continue;
        }
        matched.add(hit[0]);
        const row = hit[1][0]!;
        if (row.on_delete !== onDelete) problems.push(`${where}: foreign key ON DELETE ${row.on_delete}, expected ${onDelete}`);
        if (row.on_update !== onUpdate) problems.push(`${where}: foreign key ON UPDATE ${row.on_update}, expected ${onUpdate}`);
      }
      for (const [id, rows] of actualFks) {
        if (!matched.has(id))
          problems.push(`${table}: foreign key (${rows.map((r) => r.from).join(", ")}) → ${rows[0]!.table} exists in SQLite but not in the model`);
      }
    }
  } finally {
    db.close();
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
    expect(schemaProblems(migratedFile, datamodel)).toEqual([]);
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
    expect(schemaProblems(file, datamodel)).toEqual(["MetricPoint.msPerIter: column MetricPoint.msPerIter is missing"]);
  });

  it("fails, naming the field, when the schema gains a field, a unique constraint or another referential action", () => {
    const added = schemaText.replace("  failureReason      String?\n", "  failureReason      String?\n  seed               Int\n");
    expect(added).not.toBe(schemaText);
    expect(schemaProblems(migratedFile, getDmmf(added))).toEqual(["Run.seed: column Run.seed is missing"]);

    const unique = schemaText.replace("  name         String\n  passwordHash", "  name         String       @unique\n  passwordHash");
    expect(unique).not.toBe(schemaText);
    expect(schemaProblems(migratedFile, getDmmf(unique))).toEqual(["User: unique index User_name_key on (name) is missing"]);

    const action = schemaText.replace(
      "createdBy   User            @relation(fields: [createdById], references: [id])",
      "createdBy   User            @relation(fields: [createdById], references: [id], onDelete: Cascade)",
    );
    expect(action).not.toBe(schemaText);
    expect(schemaProblems(migratedFile, getDmmf(action))).toEqual(["Invite.createdBy: foreign key ON DELETE RESTRICT, expected CASCADE"]);
  });

  it("fails when SQLite has a column, an index or a table the schema lacks, or a column's type or nullability differs", () => {
    const file = path.join(tmp, "extras.db");
    copyFileSync(migratedFile, file);
    const db = new Database(file);
    db.exec(`ALTER TABLE "User" ADD COLUMN "nickname" TEXT`);
    db.exec(`CREATE INDEX "Run_status_idx" ON "Run"("status")`);
    db.exec(`CREATE TABLE "Stray" ("id" TEXT NOT NULL PRIMARY KEY)`);
    db.close();
    expect(schemaProblems(file, datamodel)).toEqual([
      "table Stray exists in SQLite but no model maps to it",
      "User.nickname: column exists in SQLite but model User has no such field",
      "Run: index Run_status_idx exists in SQLite but not in the model",
    ]);

    const changed = schemaText.replace("  epoch     Float\n", "  epoch     Int\n").replace("  iteration Int?\n", "  iteration Int\n");
    expect(schemaProblems(migratedFile, getDmmf(changed))).toEqual([
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
    const columns = db.pragma(`table_info("_prisma_migrations")`) as ColumnInfo[];
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
    const opened = openDatabase(`file:${file}`);
    try {
      expect(opened.file).toBe(file);
      expect(opened.applied).toEqual(ALL);
      expect(await databaseState(opened.prisma)).toEqual({ ok: true, migrations: ALL.length });
    } finally {
      await opened.prisma.$disconnect();
    }
    const again = openDatabase(file);
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
