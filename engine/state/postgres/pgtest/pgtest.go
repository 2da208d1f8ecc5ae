// Package pgtest gives tests a real PostgreSQL server, and each test a
// schema of its own on it.
//
// The server is the one the environment variable EnvURL names (a
// postgres:// URL; `.ci/run` starts a throwaway cluster and sets it).
// Without it, the first test that asks starts a throwaway cluster itself
// when PostgreSQL's initdb and pg_ctl are installed (initdb in a temporary
// directory, listening only on a unix socket, run as the postgres user
// when the tests run as root); Main stops it when the tests end. When no
// server can be had the test is skipped, except in CI (CI=true), where it
// fails: CI must test the PostgreSQL store.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL is the environment variable naming the test server.
const EnvURL = "STATGATE_TEST_POSTGRES"

var (
	once    sync.Once
	baseURL string
	baseErr error
	cluster *throwaway
)

// Main runs a package's tests and then stops the throwaway server, if one
// was started: call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		cluster.stop()
	}
	os.Exit(code)
}

// ServerURL returns the URL of the test server (see the package doc),
// skipping t, or failing it in CI, when there is none.
func ServerURL(t testing.TB) string {
	t.Helper()
	once.Do(func() { baseURL, baseErr = find() })
	if baseErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no PostgreSQL for the tests (CI must have one; .ci/run starts it): %v", baseErr)
		}
		t.Skipf("no PostgreSQL for the tests: %v (set %s to a postgres:// URL, or install postgresql)", baseErr, EnvURL)
	}
	return baseURL
}

// NewSchema creates an empty schema on the test server and returns the
// server's URL with search_path set to it, so that a store opened on that
// URL keeps its tables there. The schema is dropped when t ends (register
// it before opening stores on it, so that they close first).
func NewSchema(t testing.TB) string {
	t.Helper()
	base := ServerURL(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "t_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if err := exec1(ctx, base, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := exec1(context.Background(), base, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Logf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// exec1 runs one statement on a new connection to url.
func exec1(ctx context.Context, url, stmt string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, stmt)
	return err
}

// find returns EnvURL's server, checked, or starts a throwaway one.
func find() (string, error) {
	if u := os.Getenv(EnvURL); u != "" {
		if err := exec1(context.Background(), u, `SELECT 1`); err != nil {
			return "", fmt.Errorf("%s does not answer: %w", EnvURL, err)
		}
		return u, nil
	}
	c, err := start()
	if err != nil {
		return "", err
	}
	cluster = c
	return c.url, nil
}

// throwaway is a cluster this process started.
type throwaway struct {
	dir, pgCtl string
	asPostgres bool
	url        string
}

// binDir finds the directory of PostgreSQL's server programs.
func binDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(matches) == 0 {
		return "", errors.New("pg_ctl not found (apt-get install postgresql)")
	}
	return filepath.Dir(matches[len(matches)-1]), nil
}

// start initialises and starts a cluster in a new temporary directory,
// listening on a unix socket there only.
func start() (*throwaway, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "statgate-pg-")
	if err != nil {
		return nil, err
	}
	c := &throwaway{dir: dir, pgCtl: filepath.Join(bin, "pg_ctl"), asPostgres: os.Geteuid() == 0}
	if c.asPostgres { // PostgreSQL refuses to run as root
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root and no postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data, sock := filepath.Join(dir, "data"), dir
	if out, err := c.run(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	opts := fmt.Sprintf("-k %s -c listen_addresses='' -c max_connections=200", sock)
	if out, err := c.run(c.pgCtl, "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	c.url = "postgres://postgres@/postgres?host=" + url.QueryEscape(sock)
	if err := exec1(context.Background(), c.url, `SELECT 1`); err != nil {
		c.stop()
		return nil, fmt.Errorf("the throwaway server does not answer: %w", err)
	}
	return c, nil
}

// run runs a PostgreSQL program, as the postgres user when we are root.
func (c *throwaway) run(prog string, args ...string) (string, error) {
	var cmd *exec.Cmd
	if c.asPostgres {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", prog}, args...)...)
	} else {
		cmd = exec.Command(prog, args...)
	}
	cmd.Dir = c.dir
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (c *throwaway) stop() {
	c.run(c.pgCtl, "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(c.dir)
}
