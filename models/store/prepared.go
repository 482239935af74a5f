package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"sync"
)

// statements keeps the store's prepared statements for the queries that run on database/sql directly
// (the group commit's batches and the history page), one per pool and text; database/sql prepares each
// on a connection the first time it runs there and keeps it. The queries through GORM are prepared by its
// PrepareStmt. The set of texts is fixed by the code (a batch's size is at most maxBatch), so it stays
// small.
type statements struct {
	mu    sync.Mutex
	stmts map[statementKey]*sql.Stmt
}

type statementKey struct {
	pool *sql.DB
	text string
}

// get returns the statement for text on pool, preparing it the first time. On SQLite's single writer
// connection it must run before a transaction takes that connection: preparing needs a connection.
func (p *statements) get(ctx context.Context, pool *sql.DB, text string) (*sql.Stmt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := statementKey{pool, text}
	if stmt, ok := p.stmts[key]; ok {
		return stmt, nil
	}
	stmt, err := pool.PrepareContext(ctx, text)
	if err != nil {
		return nil, err
	}
	if p.stmts == nil {
		p.stmts = make(map[statementKey]*sql.Stmt)
	}
	p.stmts[key] = stmt
	return stmt, nil
}

// close releases every statement (before the pools close).
func (p *statements) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for key, stmt := range p.stmts {
		errs = append(errs, stmt.Close())
		delete(p.stmts, key)
	}
	return errors.Join(errs...)
}

// limitClause is a LIMIT clause with its count written into the text, not bound: a bound LIMIT makes SQLite
// compile the statement again on every run (it plans for the value bound, so binding a new value expires
// the compiled program; with a literal, a prepared statement is compiled once) and gives PostgreSQL's
// generic plan an unknown row count. The counts are the code's page sizes, so the texts stay few.
func limitClause(n int) string { return " LIMIT " + strconv.Itoa(n) }
