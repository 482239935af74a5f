-- +goose Up
-- name_key: the first and last name folded as usernames are (models.NameKey), what people search
-- compares (lower() would depend on the server's collation). Existing rows are filled in by the
-- application at start (an empty key is one not computed yet).
ALTER TABLE users ADD COLUMN name_key TEXT NOT NULL DEFAULT '';

-- Message search: a GIN index over the body's words with the 'simple' configuration (no stemming, no
-- stop words, so every language is searched alike). An index on the expression rather than a stored
-- tsvector column: it follows an edited or cleared body as the row changes all the same, it is built
-- for the existing messages here, and every query that reads messages.* does not carry the vector.
CREATE INDEX messages_body_search ON messages USING GIN (to_tsvector('simple', message_body));

-- +goose Down
DROP INDEX messages_body_search;
ALTER TABLE users DROP COLUMN name_key;
