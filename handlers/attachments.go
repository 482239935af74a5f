package handlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/valyala/fasthttp"

	"messenger/internal/files"
	"messenger/models"
	"messenger/models/store"
)

// Attachment limits: a zero field of AttachmentLimits takes these; NoLimit lifts one.
const (
	defaultMaxUploadBytes = 10 << 20 // MAX_UPLOAD_BYTES
	defaultUploadQuota    = 1 << 30  // UPLOAD_QUOTA_BYTES
	defaultUploadLimit    = 60       // UPLOAD_LIMIT: files per user per hour
	uploadWindow          = time.Hour
	// maxImagePixels refuses decompression bombs: read from the header before anything is decoded.
	maxImagePixels = 50_000_000
	// formOverhead is what a multipart send carries besides its file: the text, ids, boundaries.
	formOverhead = 64 << 10
	// uploadReadTimeout is how long one upload may take to arrive (10 MB on a slow phone link).
	uploadReadTimeout = 5 * time.Minute
)

// AttachmentLimits bounds what people may upload.
type AttachmentLimits struct {
	// MaxUploadBytes is the largest file (MAX_UPLOAD_BYTES, default 10 MiB); larger is refused with 413.
	MaxUploadBytes int64
	// Quota is the total size of the files one user may have sent (UPLOAD_QUOTA_BYTES, default 1 GiB).
	Quota int64
	// PerHour is how many files one user may send in an hour (UPLOAD_LIMIT, default 60).
	PerHour int
}

func (l AttachmentLimits) withDefaults() AttachmentLimits {
	if l.MaxUploadBytes == 0 {
		l.MaxUploadBytes = defaultMaxUploadBytes
	}
	if l.Quota == 0 {
		l.Quota = defaultUploadQuota
	}
	if l.PerHour == 0 {
		l.PerHour = defaultUploadLimit
	}
	return l
}

// attachments is what the upload and download handlers share.
type attachments struct {
	files   *files.Store
	images  *files.Images
	limits  AttachmentLimits
	perUser limit
}

func newAttachments(dir string, l AttachmentLimits) (*attachments, error) {
	if dir == "" {
		return nil, errors.New("handlers: AttachmentsDir is required")
	}
	st, err := files.Open(dir)
	if err != nil {
		return nil, err
	}
	l = l.withDefaults()
	return &attachments{files: st, images: files.NewImages(maxImagePixels, max(1, runtime.NumCPU()/2)), limits: l,
		perUser: newLimit("upload", l.PerHour, defaultUploadLimit, uploadWindow)}, nil
}

var uploadPath = regexp.MustCompile(`^/chat/[^/?]+/messages(\?|$)`)

// allowUploads lets a multipart send carry a file: every other request keeps the application's small
// body limit, and a larger body is refused from its Content-Length before it is read (fasthttp calls
// this after the headers).
func (a *attachments) allowUploads(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if !h.IsPost() || !uploadPath.Match(h.RequestURI()) || !strings.HasPrefix(string(h.ContentType()), "multipart/form-data") {
		return fasthttp.RequestConfig{}
	}
	limit := a.limits.MaxUploadBytes
	if limit <= 0 {
		limit = 1 << 40
	}
	return fasthttp.RequestConfig{MaxRequestBodySize: int(min(limit+formOverhead, 1<<40)), ReadTimeout: uploadReadTimeout}
}

// receiveAttachment reads the file of a send (field "file"), checks it against the limits and stores
// it on disk, durably, before its message is committed. It returns nil without a file. The returned
// function must be called once the message is stored or refused: it releases the file's lock and, when
// no row names the file, removes it.
func (s *Server) receiveAttachment(c *fiber.Ctx, me models.User) (*models.Attachment, func(stored bool), error) {
	none := func(bool) {}
	fh, err := c.FormFile("file")
	if err != nil || (fh.Filename == "" && fh.Size == 0) {
		return nil, none, nil // no file chosen (a form without JavaScript sends an empty part)
	}
	a := s.attach
	if fh.Size == 0 {
		return nil, none, errorf(http.StatusUnprocessableEntity, "The file "+strconv.Quote(models.CleanFileName(fh.Filename))+" is empty. Choose another one.")
	}
	if a.limits.MaxUploadBytes > 0 && fh.Size > a.limits.MaxUploadBytes {
		return nil, none, errTooLarge(a.limits.MaxUploadBytes)
	}
	ctx := c.UserContext()
	if err := s.throttle.hit(ctx, a.perUser, strconv.FormatInt(me.UserID, 10)); err != nil {
		var tooMany *tooManyError
		if errors.As(err, &tooMany) {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(max(1, int(tooMany.retryAfter.Seconds()+0.5))))
			return nil, none, errorf(http.StatusTooManyRequests, "You have sent many files in the last hour. Wait a while before sending another; your text is kept.")
		}
		return nil, none, err
	}
	if a.limits.Quota > 0 {
		used, err := s.store.UploadedBytes(ctx, me.UserID)
		if err != nil {
			return nil, none, err
		}
		if used+fh.Size > a.limits.Quota {
			return nil, none, errorf(http.StatusRequestEntityTooLarge, fmt.Sprintf(
				"You have used your space for files (%s of %s). Ask the operator for more before sending this one.",
				models.HumanSize(used), models.HumanSize(a.limits.Quota)))
		}
	}
	data, err := readUpload(fh, a.limits.MaxUploadBytes)
	if err != nil {
		return nil, none, err
	}
	p, err := a.images.Prepare(ctx, data)
	switch {
	case errors.Is(err, files.ErrEmpty):
		return nil, none, errorf(http.StatusUnprocessableEntity, "The file is empty. Choose another one.")
	case errors.Is(err, files.ErrDamaged):
		return nil, none, errorf(http.StatusUnprocessableEntity, "The image is damaged and cannot be shown. Check the file and send it again.")
	case errors.Is(err, files.ErrTooManyPixels):
		return nil, none, errorf(http.StatusUnprocessableEntity, fmt.Sprintf("The image is too large in pixels to be shown (at most %d megapixels).", maxImagePixels/1_000_000))
	case err != nil:
		return nil, none, err
	}
	att := &models.Attachment{SHA256: files.Sum(p.Data), Name: models.CleanFileName(fh.Filename), Size: int64(len(p.Data)),
		ContentType: p.ContentType, Width: p.Width, Height: p.Height, ThumbWidth: p.ThumbWidth, ThumbHeight: p.ThumbHeight}
	unlock := a.files.Lock(att.SHA256)
	release := func(stored bool) {
		defer unlock()
		if stored {
			return
		}
		// Nothing names a file whose message was refused, unless an earlier message has the same bytes.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if inUse, err := s.store.AttachmentInUse(ctx, att.SHA256); err == nil && !inUse {
			if err := a.files.Remove(att.SHA256); err != nil {
				s.log.Warn("remove unsent attachment", "user_id", me.UserID, "err", err)
			}
		}
	}
	if err := a.files.Put(att.SHA256, "", p.Data); err != nil {
		release(false)
		return nil, none, err
	}
	if p.Thumb != nil {
		if err := a.files.Put(att.SHA256, files.ThumbSuffix, p.Thumb); err != nil {
			release(false)
			return nil, none, err
		}
	}
	return att, release, nil
}

func errTooLarge(limit int64) error {
	return errorf(http.StatusRequestEntityTooLarge, "The file is too large: files may be at most "+models.HumanSize(limit)+". Your text is kept.")
}

// readUpload reads a received file whole, never more than limit bytes (a part may be larger than the
// size its header claimed).
func readUpload(fh *multipart.FileHeader, limit int64) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := io.Reader(f)
	if limit > 0 {
		r = io.LimitReader(f, limit+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if limit > 0 && int64(len(data)) > limit {
		return nil, errTooLarge(limit)
	}
	return data, nil
}

// removeAttachment deletes a message's attachment: its row and, when no other message has the same
// bytes, its file. Deleting a message calls it (ErrNotFound: the message had none).
func (s *Server) removeAttachment(ctx context.Context, messageID int64) error {
	// The file is known only once the row is read: lock after, and check again under the lock.
	a, lastCopy, err := s.store.DeleteMessageAttachment(ctx, messageID)
	if err != nil || !lastCopy {
		return err
	}
	unlock := s.attach.files.Lock(a.SHA256)
	defer unlock()
	if inUse, err := s.store.AttachmentInUse(ctx, a.SHA256); err != nil || inUse {
		return err
	}
	return s.attach.files.Remove(a.SHA256)
}

// attachmentCSP is the policy of a served file: nothing in it may run or load anything, even if a
// browser were made to render it as a page.
const attachmentCSP = "default-src 'none'; sandbox"

// serveAttachment sends a file to one of the two people of its conversation (404 for anyone else, as
// for a file that does not exist). Only the four image types are ever inline, as their sniffed type;
// everything else is a download. The bytes under a URL never change: cached for a year, privately.
func (s *Server) serveAttachment(thumb bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := strconv.ParseInt(c.Params("id"), 10, 64)
		if err != nil || id <= 0 {
			return store.ErrNotFound
		}
		a, err := s.store.AttachmentFor(c.UserContext(), id, currentUser(c).UserID)
		if err != nil {
			return err
		}
		suffix, contentType, etag := "", a.ContentType, a.SHA256
		if !a.IsImage() {
			contentType = "application/octet-stream"
		} else if thumb && (a.ThumbWidth != a.Width || a.ThumbHeight != a.Height) {
			suffix, etag = files.ThumbSuffix, a.SHA256+"-thumb"
			if contentType != "image/jpeg" {
				contentType = "image/png"
			}
		}
		f, err := s.attach.files.Open(a.SHA256, suffix)
		if errors.Is(err, fs.ErrNotExist) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		defer f.Close()
		c.Response().Header.Del("Content-Security-Policy")
		return adaptor.HTTPHandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Type", contentType)
			h.Set("Content-Security-Policy", attachmentCSP)
			h.Set("Cross-Origin-Resource-Policy", "same-origin")
			h.Set("Cache-Control", "private, max-age=31536000, immutable")
			h.Set("ETag", `"`+etag+`"`)
			disposition := "attachment"
			if a.IsImage() {
				disposition = "inline"
			}
			h.Set("Content-Disposition", contentDisposition(disposition, a.Name))
			http.ServeContent(w, r, "", a.CreatedAt, f)
		})(c)
	}
}

// contentDisposition names a file safely (RFC 6266): an ASCII fallback with anything doubtful
// replaced, and the real name percent-encoded in filename*.
func contentDisposition(kind, name string) string {
	var ascii, encoded strings.Builder
	for _, r := range name {
		if r >= 0x20 && r < 0x7f && r != '"' && r != '\\' && r != '%' && r != ';' {
			ascii.WriteRune(r)
		} else {
			ascii.WriteByte('_')
		}
	}
	for _, b := range []byte(name) {
		if b < 0x80 && (b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || strings.IndexByte("!#$&+-.^_`|~", b) >= 0) {
			encoded.WriteByte(b)
		} else {
			fmt.Fprintf(&encoded, "%%%02X", b)
		}
	}
	return kind + `; filename="` + ascii.String() + `"; filename*=UTF-8''` + encoded.String()
}
