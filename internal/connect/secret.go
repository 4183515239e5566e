package connect

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/store"
)

// Webhook secrets must be recoverable (each delivery's HMAC is computed with them), unlike
// write keys, which are stored as hashes. They are sealed with AES-256-GCM under a key kept
// outside the database: OMNIROI_SECRETS_KEY (64 hex digits or base64 of 32 bytes), else
// the file secrets.key in the data directory, made (0600) on first use. A copy of the
// database alone, a dump or a backup, does not reveal them (docs/decisions.md, "Shop
// connectors").

// SecretsKeyEnv names the environment variable that holds the sealing key.
const SecretsKeyEnv = "OMNIROI_SECRETS_KEY"

const keyFile = "secrets.key"

// sealingKey reads the sealing key: the environment's, else the data directory's file,
// created when missing.
func sealingKey(db *store.DB) ([]byte, error) {
	if v := strings.TrimSpace(os.Getenv(SecretsKeyEnv)); v != "" {
		k, err := decodeKey(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", SecretsKeyEnv, err)
		}
		return k, nil
	}
	if db.DataDir == "" {
		return nil, fmt.Errorf("no place for the key that seals webhook secrets: set %s (32 random bytes, hex) or give a data directory (--data)", SecretsKeyEnv)
	}
	path := filepath.Join(db.DataDir, keyFile)
	if b, err := os.ReadFile(path); err == nil {
		k, err := decodeKey(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read the secrets key: %w", err)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(db.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create the secrets key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return sealingKey(db) // another process made it first
	}
	if err != nil {
		return nil, fmt.Errorf("create the secrets key: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write the secrets key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return k, f.Close()
}

func decodeKey(v string) ([]byte, error) {
	if k, err := hex.DecodeString(v); err == nil && len(k) == 32 {
		return k, nil
	}
	if k, err := base64.StdEncoding.DecodeString(v); err == nil && len(k) == 32 {
		return k, nil
	}
	return nil, errors.New("want 32 bytes as 64 hex digits or base64")
}

func keyID(k []byte) string {
	h := sha256.Sum256(k)
	return hex.EncodeToString(h[:8])
}

func aad(sourceID int64) []byte {
	return []byte("omniroi connector secret v1 source " + strconv.FormatInt(sourceID, 10))
}

func seal(k []byte, sourceID int64, secret string) (string, error) {
	block, err := aes.NewCipher(k)
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(gcm.Seal(nonce, nonce, []byte(secret), aad(sourceID))), nil
}

func unseal(k []byte, sourceID int64, sealed string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return "", err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	if len(b) < gcm.NonceSize() {
		return "", errors.New("sealed secret too short")
	}
	p, err := gcm.Open(nil, b[:gcm.NonceSize()], b[gcm.NonceSize():], aad(sourceID))
	if err != nil {
		return "", err
	}
	return string(p), nil
}

// NewSecret makes a random webhook secret (256 bits, hex).
func NewSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// SetSecret seals and stores the webhook secret of a connector source, inside tx.
func SetSecret(ctx context.Context, db *store.DB, tx *store.Tx, src store.Source, secret string) error {
	secret = strings.TrimSpace(secret)
	if err := checkSecret(secret); err != nil {
		return err
	}
	p, ok := platformOf(src.Kind)
	if !ok {
		return fmt.Errorf("source %q is a %s source, not a shop connector", src.Name, src.Kind)
	}
	k, err := sealingKey(db)
	if err != nil {
		return err
	}
	sealed, err := seal(k, src.ID, secret)
	if err != nil {
		return fmt.Errorf("seal the webhook secret: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO connectors (source_id, platform, secret_sealed, key_id, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (source_id) DO UPDATE SET platform = excluded.platform, secret_sealed = excluded.secret_sealed,
		key_id = excluded.key_id, updated_at = excluded.updated_at`, src.ID, p.Kind, sealed, keyID(k), time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("store the webhook secret: %w", err)
	}
	return nil
}

// ErrNoSecret says a connector source has no webhook secret stored.
var ErrNoSecret = errors.New("no webhook secret")

// Secret reads a connector source's webhook secret.
func Secret(ctx context.Context, db *store.DB, sourceID int64) (string, error) {
	var sealed, kid string
	err := db.QueryRow(ctx, `SELECT secret_sealed, key_id FROM connectors WHERE source_id = ?`, sourceID).Scan(&sealed, &kid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNoSecret
	}
	if err != nil {
		return "", fmt.Errorf("read the webhook secret: %w", err)
	}
	k, err := sealingKey(db)
	if err != nil {
		return "", err
	}
	if kid != keyID(k) {
		return "", fmt.Errorf("the webhook secret of source %d was sealed with another key (the data directory's %s or %s changed); set it again: omniroi source secret NAME", sourceID, keyFile, SecretsKeyEnv)
	}
	s, err := unseal(k, sourceID, sealed)
	if err != nil {
		return "", fmt.Errorf("open the webhook secret of source %d: %w", sourceID, err)
	}
	return s, nil
}
