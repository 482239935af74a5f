-- +goose Up
-- The UTS #39 skeleton of the username (models.UsernameSkeleton): two names that look alike share it.
-- Existing rows are filled in by the application at start (Go computes it), so the column allows NULL.
ALTER TABLE users ADD COLUMN username_skeleton TEXT;
CREATE UNIQUE INDEX users_username_skeleton ON users (username_skeleton);

-- +goose Down
DROP INDEX users_username_skeleton;
ALTER TABLE users DROP COLUMN username_skeleton;
