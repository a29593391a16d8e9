/**
 * Sealed columns: the app secrets (`receipt_secret`, `sdk_secret`) and provider credentials
 * (`provider_config`, the whole JSON, so that every future secret field of every provider is covered)
 * are sealed by the store itself (docs/operations.md#secrets-at-rest), so that no reader or writer can forget to.
 *
 * `SealedColumnsPlugin` is a Kysely plugin on the store's connection: it seals these columns in every
 * INSERT into and UPDATE of `apps` built with the query builder — `INSERT … VALUES`, the `DO UPDATE
 * SET` of an upsert, and `UPDATE … SET` whether the column is named bare or table-qualified, in an
 * object or as `.set(column, value)` — and opens them in every result row that carries them under
 * their own names (`selectAll`, `select('receipt_secret')`, `apps.provider_config`). A secret that
 * cannot be sealed on the way, because it is not a value (`INSERT … SELECT`, a copied column, an
 * `excluded.` reference), makes the query throw rather than store it in clear. Code above the store
 * therefore always sees secrets in clear; the database file and rows never hold them in clear. Two
 * limits, kept by the code: secrets are written through the query builder only (never raw `sql`), and
 * read under their column names (an `as` alias is not opened). `sdk_key` stays in clear: it is the
 * identifier receipts are looked up by.
 *
 * Older databases hold these columns in clear: such values are read as they are, and
 * `sealStoredSecrets` (run by every start after the migrations) seals them in place. A migration could
 * not: it does not know the key.
 */
import {
  AliasNode,
  ColumnNode,
  ColumnUpdateNode,
  type KyselyPlugin,
  type OperationNode,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  PrimitiveValueListNode,
  type QueryResult,
  ReferenceNode,
  type RootOperationNode,
  TableNode,
  type UnknownRow,
  ValueListNode,
  ValueNode,
  ValuesNode,
} from 'kysely';
import { isSealed, type SecretBox } from '../security/secret-box.ts';
import type { Db } from './database.ts';

/** The table whose columns are sealed, and its sealed columns. */
const SEALED_TABLE = 'apps';
const SEALED_COLUMN_NAMES = ['receipt_secret', 'sdk_secret', 'provider_config'] as const;
const SEALED_COLUMNS: ReadonlySet<string> = new Set(SEALED_COLUMN_NAMES);

function tableName(node: OperationNode | undefined): string | undefined {
  if (node === undefined) return undefined;
  if (TableNode.is(node)) return node.table.identifier.name;
  if (AliasNode.is(node)) return tableName(node.node);
  return undefined;
}

function columnName(node: OperationNode): string | undefined {
  if (ColumnNode.is(node)) return node.column.name;
  // `.set('sdk_secret', v)` and `apps.sdk_secret` wrap the column in a reference.
  if (ReferenceNode.is(node) && ColumnNode.is(node.column)) return node.column.column.name;
  return undefined;
}

function isSealedColumn(node: OperationNode): boolean {
  return SEALED_COLUMNS.has(columnName(node) ?? '');
}

/** Seals and opens the sealed columns of `apps` (see the module comment). */
export class SealedColumnsPlugin implements KyselyPlugin {
  readonly #box: SecretBox;

  constructor(box: SecretBox) {
    this.#box = box;
  }

  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
    if (node.kind === 'InsertQueryNode' && tableName(node.into) === SEALED_TABLE) {
      const sealed = (node.columns ?? []).map(isSealedColumn);
      let inserted = node;
      if (node.values && sealed.includes(true)) {
        if (!ValuesNode.is(node.values)) {
          // INSERT … SELECT: the secrets come from a query and cannot be sealed on the way.
          throw new Error(`apps secrets must be inserted as values, not from a ${node.values.kind}`);
        }
        const rows = node.values.values.map((row) =>
          row.kind === 'PrimitiveValueListNode'
            ? PrimitiveValueListNode.create(row.values.map((v, i) => (sealed[i] ? this.#seal(v) : v)))
            : ValueListNode.create(row.values.map((v, i) => (sealed[i] ? this.#sealNode(v) : v))),
        );
        inserted = { ...inserted, values: ValuesNode.create(rows) };
      }
      const onConflict = node.onConflict;
      if (onConflict?.updates) {
        inserted = {
          ...inserted,
          onConflict: { ...onConflict, updates: this.#sealUpdates(onConflict.updates) },
        };
      }
      return inserted;
    }
    if (node.kind === 'UpdateQueryNode' && tableName(node.table) === SEALED_TABLE && node.updates) {
      return { ...node, updates: this.#sealUpdates(node.updates) };
    }
    return node;
  }

  async transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const first = result.rows[0];
    // Every row of a result has the same columns: most results carry none of these, and cost one look.
    if (first === undefined || !SEALED_COLUMN_NAMES.some((name) => name in first)) return result;
    const rows = result.rows.map((row) => {
      const opened: UnknownRow = { ...row };
      for (const name of SEALED_COLUMN_NAMES) {
        const value = opened[name];
        if (typeof value === 'string') opened[name] = this.#box.open(value);
      }
      return opened;
    });
    return { ...result, rows };
  }

  #sealUpdates(updates: readonly ColumnUpdateNode[]): ColumnUpdateNode[] {
    return updates.map((update) =>
      isSealedColumn(update.column)
        ? ColumnUpdateNode.create(update.column, this.#sealNode(update.value))
        : update,
    );
  }

  #seal(value: unknown): unknown {
    return typeof value === 'string' && !isSealed(value) ? this.#box.seal(value) : value;
  }

  #sealNode(node: OperationNode): OperationNode {
    // DEFAULT (a column one row of a multi-row insert leaves out) has nothing to seal.
    if (node.kind === 'DefaultInsertValueNode') return node;
    if (node.kind !== 'ValueNode') {
      // An expression (e.g. a column copy) cannot be sealed here; refusing beats storing it in clear.
      throw new Error(`apps secrets must be written as values, not as ${node.kind}`);
    }
    return ValueNode.create(this.#seal((node as ValueNode).value));
  }
}

/**
 * Seals every app secret an older version left in clear, and proves the key opens the sealed ones:
 * run after the migrations at every start. A key that does not open them is a `ConfigError` here,
 * at start, rather than a failed receipt or send later. Apps are few (one per mobile app), so all
 * are read.
 */
export async function sealStoredSecrets(db: Db, box: SecretBox): Promise<number> {
  const raw = db.withoutPlugins();
  const apps = await raw
    .selectFrom('apps')
    .select(['id', 'receipt_secret', 'sdk_secret', 'provider_config'])
    .execute();
  let upgraded = 0;
  for (const app of apps) {
    const values = [app.receipt_secret, app.sdk_secret, app.provider_config];
    for (const value of values) box.open(value);
    if (values.every(isSealed)) continue;
    await raw
      .updateTable('apps')
      .set({
        receipt_secret: box.seal(box.open(app.receipt_secret)),
        sdk_secret: box.seal(box.open(app.sdk_secret)),
        provider_config: box.seal(box.open(app.provider_config)),
      })
      .where('id', '=', app.id)
      // Another process may have sealed it meanwhile (PostgreSQL): only a row still in clear is sealed.
      .where('receipt_secret', '=', app.receipt_secret)
      .where('sdk_secret', '=', app.sdk_secret)
      .where('provider_config', '=', app.provider_config)
      .execute();
    upgraded += 1;
  }
  return upgraded;
}
