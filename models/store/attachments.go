package store

import (
	"context"
	"database/sql"
	"fmt"

	"messenger/models"
)

// insertAttachments writes the attachment rows of a batch's messages, in the batch's transaction: a
// message and its file's row commit together or not at all. msgs are the stored messages, in the
// order of rows.
func (s *Store) insertAttachments(ctx context.Context, tx *sql.Tx, rows []*sendRequest, msgs []models.ExtendedMessage) error {
	q := rebind(s.dialect, `INSERT INTO attachments (message_id, uploader_id, sha256, name, size, content_type, width, height,
		thumb_width, thumb_height, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING attachment_id`)
	for i, r := range rows {
		in := r.in.Attachment
		if in == nil {
			continue
		}
		a := *in
		a.MessageID, a.UploaderID, a.CreatedAt = msgs[i].MessageID, r.in.SenderID, msgs[i].MessageDate
		err := tx.QueryRowContext(ctx, q, a.MessageID, a.UploaderID, a.SHA256, a.Name, a.Size, a.ContentType, a.Width, a.Height,
			a.ThumbWidth, a.ThumbHeight, a.CreatedAt).Scan(&a.AttachmentID)
		if err != nil {
			return fmt.Errorf("attachment of message %d: %w", a.MessageID, err)
		}
		msgs[i].Attachment = &a
	}
	return nil
}

// sameAttachment reports whether a retried send names the file its stored message has.
func sameAttachment(stored *models.Attachment, in *models.Attachment) bool {
	if stored == nil || in == nil {
		return stored == nil && in == nil
	}
	return stored.SHA256 == in.SHA256 && stored.Name == in.Name
}

// withAttachments loads the attachments of msgs, in one query, onto them.
func (s *Store) withAttachments(ctx context.Context, msgs ...*models.Message) error {
	ids := make([]int64, 0, len(msgs))
	for _, m := range msgs {
		if m != nil {
			ids = append(ids, m.MessageID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var atts []models.Attachment
	if err := s.r(ctx).Where("message_id IN ?", ids).Find(&atts).Error; err != nil {
		return wrap("attachments of messages", err)
	}
	if len(atts) == 0 {
		return nil
	}
	byMessage := make(map[int64]*models.Attachment, len(atts))
	for i := range atts {
		byMessage[atts[i].MessageID] = &atts[i]
	}
	for _, m := range msgs {
		if m != nil {
			m.Attachment = byMessage[m.MessageID]
		}
	}
	return nil
}

// withPageAttachments is withAttachments for a run of extended messages.
func (s *Store) withPageAttachments(ctx context.Context, msgs []models.ExtendedMessage) error {
	ptrs := make([]*models.Message, len(msgs))
	for i := range msgs {
		ptrs[i] = &msgs[i].Message
	}
	return s.withAttachments(ctx, ptrs...)
}

// AttachmentFor returns an attachment for viewerID to see: ErrNotFound unless the viewer sent or
// received its message, so another pair's file looks exactly like no file.
func (s *Store) AttachmentFor(ctx context.Context, attachmentID, viewerID int64) (models.Attachment, error) {
	var a models.Attachment
	err := s.r(ctx).Raw(`SELECT a.* FROM attachments a JOIN messages m ON m.message_id = a.message_id
		WHERE a.attachment_id = ? AND (m.sender_user_id = ? OR m.recipient_user_id = ?)`, attachmentID, viewerID, viewerID).
		Scan(&a).Error
	if err == nil && a.AttachmentID == 0 {
		err = ErrNotFound
	}
	return a, wrap("attachment for viewer", err)
}

// UploadedBytes is the total size of the files userID has sent: what counts against their quota.
func (s *Store) UploadedBytes(ctx context.Context, userID int64) (int64, error) {
	var n int64
	err := s.r(ctx).Raw(`SELECT COALESCE(SUM(size), 0) FROM attachments WHERE uploader_id = ?`, userID).Scan(&n).Error
	return n, wrap("uploaded bytes", err)
}

// AttachmentInUse reports whether any attachment row names the file sha.
func (s *Store) AttachmentInUse(ctx context.Context, sha string) (bool, error) {
	var n int64
	err := s.q(ctx).Raw(`SELECT COUNT(*) FROM attachments WHERE sha256 = ?`, sha).Scan(&n).Error
	return n > 0, wrap("attachment in use", err)
}

// DeleteMessageAttachment deletes the attachment row of a message (ErrNotFound when it has none) and
// returns it, with lastCopy true when no other row names its file any more: the caller then removes
// the file (handlers: Server.removeAttachment does both).
func (s *Store) DeleteMessageAttachment(ctx context.Context, messageID int64) (a models.Attachment, lastCopy bool, err error) {
	var deleted []models.Attachment
	if err := s.q(ctx).Raw(`DELETE FROM attachments WHERE message_id = ? RETURNING *`, messageID).Scan(&deleted).Error; err != nil {
		return a, false, wrap("delete message attachment", err)
	}
	if len(deleted) == 0 {
		return a, false, wrap("delete message attachment", ErrNotFound)
	}
	a = deleted[0]
	inUse, err := s.AttachmentInUse(ctx, a.SHA256)
	return a, !inUse && err == nil, err
}
