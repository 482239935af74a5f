package store

import (
	"context"
	"strings"

	"messenger/models"
)

// containsPattern is a LIKE pattern matching any text that contains text literally.
func containsPattern(text string) string {
	return "%" + likeEscaper.Replace(text) + "%"
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// backfillNameKeys computes the name key of users written before the column existed (or by an older
// release beside this one).
func (s *Store) backfillNameKeys(ctx context.Context) error {
	var users []models.User
	if err := s.q(ctx).Select("user_id", "first_name", "last_name").Where("name_key = ''").Find(&users).Error; err != nil {
		return wrap("backfill name keys", err)
	}
	for _, u := range users {
		err := s.q(ctx).Model(&models.User{}).Where("user_id = ?", u.UserID).
			Update("name_key", models.NameKey(u.FirstName, u.LastName)).Error
		if err != nil {
			return wrap("backfill name keys", err)
		}
	}
	return nil
}
