package store_test

import (
	"database/sql"
	"slices"
	"strings"
	"testing"

	"messenger/migrations"
	"messenger/models/store"
	"messenger/models/store/storetest"
)

// planRules say, per dialect, how to explain a query, what a plan line reading messages through an
// index looks like, and what would betray a sort of the whole conversation.
var planRules = map[migrations.Dialect]struct {
	explain   string
	indexed   func(line string) bool
	describe  string
	forbidden string
}{
	migrations.SQLite: {
		explain: "EXPLAIN QUERY PLAN ",
		indexed: func(line string) bool {
			return strings.HasPrefix(line, "SEARCH m USING ") && strings.Contains(line, "INDEX") &&
				strings.Contains(line, "(conversation_id=?")
		},
		describe:  "SEARCH m USING [COVERING] INDEX … (conversation_id=? …)",
		forbidden: "TEMP B-TREE",
	},
	migrations.Postgres: {
		explain: "EXPLAIN ",
		indexed: func(line string) bool {
			return (strings.Contains(line, "Index Scan") || strings.Contains(line, "Index Only Scan")) &&
				strings.Contains(line, " on messages m")
		},
		describe:  "Index [Only] Scan [Backward] … on messages m",
		forbidden: "Sort",
	},
}

// TestPagingUsesIndex checks that MessagesBefore's query reads (conversation_id, seq) off the unique
// index in order: no sort of the conversation, whatever its length or the cursor's depth.
func TestPagingUsesIndex(t *testing.T) {
	const n = 5_000
	shapes := []struct {
		name  string
		where string
		args  func(conv int64) []any
	}{
		{"newest page", `WHERE m.conversation_id = ? `, func(conv int64) []any { return []any{conv, pageSize + 1} }},
		{"deep page", `WHERE m.conversation_id = ? AND m.seq < ? `, func(conv int64) []any { return []any{conv, n / 2, pageSize + 1} }},
	}
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			s, conv := seedConversation(t, dialect, n)
			db := rawDB(t, s.URL())
			rule := planRules[s.Dialect()]
			for _, shape := range shapes {
				query := rebind(s.Dialect(), rule.explain+store.ExtendedSelect+shape.where+`ORDER BY m.seq DESC LIMIT ?`)
				plan := queryPlan(t, db, s.Dialect(), query, shape.args(conv)...)
				if !slices.ContainsFunc(strings.Split(plan, "\n"), rule.indexed) {
					t.Errorf("%s: messages are not read through an index (want %q):\n%s", shape.name, rule.describe, plan)
				}
				if strings.Contains(plan, rule.forbidden) {
					t.Errorf("%s: plan contains %q:\n%s", shape.name, rule.forbidden, plan)
				}
				t.Logf("%s:\n%s", shape.name, plan)
			}
		})
	}
}

// queryPlan runs an EXPLAIN and returns its text, one plan node per line.
func queryPlan(t *testing.T, db *sql.DB, dialect migrations.Dialect, query string, args ...any) string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		if dialect == migrations.SQLite {
			var id, parent, unused int
			err = rows.Scan(&id, &parent, &unused, &line)
		} else {
			err = rows.Scan(&line)
		}
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
