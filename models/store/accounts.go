package store

import (
	"context"
	"errors"
	"log/slog"

	"gorm.io/gorm"

	"messenger/models"
)

// UsernameTaken reports whether a user has this username, ignoring case and width, or one that looks
// like it (the same confusables skeleton).
func (s *Store) UsernameTaken(ctx context.Context, username string) (bool, error) {
	var taken bool
	err := s.r(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM users WHERE username_key = ? OR username_skeleton = ?)`,
		models.UsernameKey(username), models.UsernameSkeleton(username)).Scan(&taken).Error
	return taken, wrap("username taken", err)
}

// backfillSkeletons computes the skeleton of users created before the column existed. Two old names
// that look alike cannot both hold theirs: the older keeps it and the other stays NULL (it still
// holds its name; a newcomer that looks like both collides with the older one's skeleton).
func (s *Store) backfillSkeletons(ctx context.Context, log *slog.Logger) error {
	var users []models.User
	if err := s.q(ctx).Where("username_skeleton IS NULL").Order("user_id").Find(&users).Error; err != nil {
		return wrap("backfill skeletons", err)
	}
	for _, u := range users {
		err := s.q(ctx).Model(&models.User{}).Where("user_id = ?", u.UserID).
			Update("username_skeleton", models.UsernameSkeleton(u.Username)).Error
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			log.Warn("username looks like an older one; its skeleton is left empty", "user_id", u.UserID)
			continue
		}
		if err != nil {
			return wrap("backfill skeletons", err)
		}
	}
	return nil
}

// UpdateProfile sets a user's names and gender (the settings page).
func (s *Store) UpdateProfile(ctx context.Context, userID int64, p models.Profile) error {
	res := s.q(ctx).Model(&models.User{}).Where("user_id = ?", userID).
		Updates(map[string]any{"first_name": p.FirstName, "last_name": p.LastName, "gender": p.Gender,
			"name_key": models.NameKey(p.FirstName, p.LastName)})
	if res.Error == nil && res.RowsAffected == 0 {
		return wrap("update profile", ErrNotFound)
	}
	return wrap("update profile", res.Error)
}

// SetPassword replaces a user's password hash.
func (s *Store) SetPassword(ctx context.Context, userID int64, hash string) error {
	res := s.q(ctx).Model(&models.User{}).Where("user_id = ?", userID).Update("password", hash)
	if res.Error == nil && res.RowsAffected == 0 {
		return wrap("set password", ErrNotFound)
	}
	return wrap("set password", res.Error)
}

// CountOtherSessions is how many live sessions a user has besides the one named exceptHash.
func (s *Store) CountOtherSessions(ctx context.Context, userID int64, exceptHash string) (int64, error) {
	var n int64
	err := s.r(ctx).Model(&models.Session{}).Where("user_id = ? AND id_hash <> ? AND expires_at > ?", userID, exceptHash, now()).
		Count(&n).Error
	return n, wrap("count other sessions", err)
}
