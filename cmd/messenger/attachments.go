package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"messenger/handlers"
)

// attachmentsDir is where attachments are kept: ATTACHMENTS_DIR, else "attachments" in DATA_DIR.
func attachmentsDir(dataDir string) string {
	return envOr("ATTACHMENTS_DIR", filepath.Join(dataDir, "attachments"))
}

// attachmentLimitsFromEnv reads MAX_UPLOAD_BYTES, UPLOAD_QUOTA_BYTES and UPLOAD_LIMIT: unset takes the
// default, 0 lifts the limit.
func attachmentLimitsFromEnv() (handlers.AttachmentLimits, error) {
	var l handlers.AttachmentLimits
	for key, dst := range map[string]*int64{"MAX_UPLOAD_BYTES": &l.MaxUploadBytes, "UPLOAD_QUOTA_BYTES": &l.Quota} {
		raw := os.Getenv(key)
		if raw == "" {
			continue
		}
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 || n > 1<<40 {
			return l, fmt.Errorf("%s must be a number of bytes from 0 (no limit) to %d, not %q", key, int64(1)<<40, raw)
		}
		*dst = n
		if n == 0 {
			*dst = handlers.NoLimit
		}
	}
	n, err := envLimit("UPLOAD_LIMIT", false)
	l.PerHour = int(n)
	return l, err
}
