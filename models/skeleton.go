package models

// go.mau.fi/util/confusable (MPL-2.0, used unmodified) carries Unicode's confusables.txt (Unicode 17)
// and the UTS #39 skeleton function over it.
import "go.mau.fi/util/confusable"

// UsernameSkeleton is what two usernames that look alike have in common: the UTS #39 confusables
// skeleton of the username's key (NFKC and case folding first, so "Alice", "ａｌｉｃｅ" and "аlice" with a
// Cyrillic "а" all come out the same). Registration refuses a name whose skeleton is taken.
func UsernameSkeleton(username string) string {
	return confusable.Skeleton(UsernameKey(username))
}
