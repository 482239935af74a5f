package store

import (
	"database/sql"
	"errors"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/callbacks"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
	"gorm.io/gorm/migrator"
	"gorm.io/gorm/schema"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteDialect is GORM's view of SQLite through modernc.org/sqlite's own driver. That driver keeps a
// prepared statement's compiled program and only resets and rebinds it on the next call, so with
// gorm.Config.PrepareStmt each query's SQL is parsed once per connection; the fork GORM's usual pure-Go
// dialector is built on compiles the SQL again on every call, prepared or not, which was a quarter of the
// store's CPU under load (docs/PERFORMANCE.md). The store writes its schema with its own migrations and
// its queries in SQL or with GORM's basic builders, so this is the part of a dialector those need:
// SQLite's placeholders and quoting, RETURNING on inserts, and its constraint errors mapped to GORM's.
type sqliteDialect struct{ dsn string }

func (sqliteDialect) Name() string { return "sqlite" }

// Initialize opens the pool through a connector: the driver registers itself under the name "sqlite", but
// nothing here needs database/sql's registry.
func (d sqliteDialect) Initialize(db *gorm.DB) error {
	connector, err := sqlite.NewConnector(d.dsn)
	if err != nil {
		return err
	}
	db.ConnPool = sql.OpenDB(connector)
	// The SQLite compiled into the driver is far newer than 3.35, the first with RETURNING.
	callbacks.RegisterDefaultCallbacks(db, &callbacks.Config{
		CreateClauses:        []string{"INSERT", "VALUES", "ON CONFLICT", "RETURNING"},
		UpdateClauses:        []string{"UPDATE", "SET", "FROM", "WHERE", "RETURNING"},
		DeleteClauses:        []string{"DELETE", "FROM", "WHERE", "RETURNING"},
		LastInsertIDReversed: true,
	})
	// SQLite has no row locks: a FOR UPDATE clause is dropped rather than sent.
	db.ClauseBuilders["FOR"] = func(c clause.Clause, builder clause.Builder) {
		if _, ok := c.Expression.(clause.Locking); !ok {
			c.Build(builder)
		}
	}
	return nil
}

// Migrator is GORM's generic one: the store's schema comes from its own migrations.
func (d sqliteDialect) Migrator(db *gorm.DB) gorm.Migrator {
	return migrator.Migrator{Config: migrator.Config{DB: db, Dialector: d}}
}

// DataTypeOf names SQLite's storage class for a Go field type.
func (sqliteDialect) DataTypeOf(field *schema.Field) string {
	switch field.DataType {
	case schema.Bool, schema.Int, schema.Uint:
		return "integer"
	case schema.Float:
		return "real"
	case schema.String:
		return "text"
	case schema.Time:
		return "datetime"
	case schema.Bytes:
		return "blob"
	}
	return string(field.DataType)
}

// DefaultValueOf: SQLite takes NULL for a rowid to be assigned and has no DEFAULT keyword in VALUES.
func (sqliteDialect) DefaultValueOf(field *schema.Field) clause.Expression {
	if field.AutoIncrement {
		return clause.Expr{SQL: "NULL"}
	}
	return clause.Expr{SQL: "DEFAULT"}
}

func (sqliteDialect) BindVarTo(writer clause.Writer, _ *gorm.Statement, _ any) {
	writer.WriteByte('?')
}

// QuoteTo quotes each dot-separated part of a name as an SQL identifier ("users"."id").
func (sqliteDialect) QuoteTo(writer clause.Writer, name string) {
	for i, part := range strings.Split(name, ".") {
		if i > 0 {
			writer.WriteByte('.')
		}
		writer.WriteByte('"')
		writer.WriteString(strings.ReplaceAll(part, `"`, `""`))
		writer.WriteByte('"')
	}
}

func (sqliteDialect) Explain(sql string, vars ...any) string {
	return logger.ExplainSQL(sql, nil, `'`, vars...)
}

func (sqliteDialect) SavePoint(tx *gorm.DB, name string) error {
	return tx.Exec("SAVEPOINT " + name).Error
}

func (sqliteDialect) RollbackTo(tx *gorm.DB, name string) error {
	return tx.Exec("ROLLBACK TO SAVEPOINT " + name).Error
}

// Translate maps SQLite's constraint errors to GORM's (gorm.Config.TranslateError).
func (sqliteDialect) Translate(err error) error {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return gorm.ErrDuplicatedKey
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return gorm.ErrForeignKeyViolated
	}
	return err
}
