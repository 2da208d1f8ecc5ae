package exec

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/statgate/statgate/policies"
)

// Delivery modes (DeliverReport.Mode).
const (
	// ModeAppend adds the delivered rows to the dataset.
	ModeAppend = "append"
	// ModeUpsert replaces, in a one-row-per-person dataset, the row of
	// every delivered person, and adds the persons not there yet.
	ModeUpsert = "upsert"
)

// DeliverOptions configure Deliver. Policy, DataDir, Dataset and Files are
// required.
type DeliverOptions struct {
	Policy  *policies.Policy
	DataDir string
	// Dataset is the policy dataset the files deliver rows of.
	Dataset string
	// Files are Parquet, CSV or gzipped CSV files, all of them one
	// delivery: all are accepted or none is.
	Files []string
	// Through, when not zero, is the last day the delivery covers: a
	// public fact the registry declares (its delivery schedule). A row
	// with a date after it is refused; answers say the dataset holds data
	// up to its month.
	Through time.Time
	// Principal is who delivers (recorded in the version's history).
	Principal string
	// Commit, if set, is called with the report once the new version is
	// written and checked, before it replaces the current one; an error
	// abandons the delivery (the audit entry goes here, so that no version
	// goes live unaudited).
	Commit func(ctx context.Context, r *DeliverReport) error
	// Progress receives one line per step; nil: silent.
	Progress io.Writer
}

// DeliverReport says what Deliver did.
type DeliverReport struct {
	Dataset string
	// Mode is ModeAppend or ModeUpsert.
	Mode  string
	Files []DatasetLoad
	// Rows are the rows delivered; Replaced, for an upsert, how many of
	// them replaced a person's row already there.
	Rows, Replaced int64
	// Fingerprint is the delivered rows' fingerprint (SHA-256 of the
	// dataset's name, columns, row count and row-hash sum): for the
	// operator's record and the audit log, never for an answer.
	Fingerprint string
	// Version is the version the delivery made; VersionFingerprint its
	// fingerprint (DB.Fingerprint of the new extracts).
	Version            int64
	VersionFingerprint string
	// Delivered is the delivery's time.
	Delivered time.Time
	// Path is the extracts file, Part the part file holding the rows.
	Path, Part string
	// Parts is how many part files the dataset is read from now (see
	// Compact).
	Parts   int
	Elapsed time.Duration
}

// Deliver adds a delivery to a dataset of the extracts in DataDir as a
// new version (see version.go): the files are read and checked like
// Load's sources (columns present with compatible types, the person key
// never NULL) and more (every value in its declared public domain, dates
// no later than Through, one row per person and no person twice when the
// dataset is one row per person), then written into a part file of their
// own; a new version file listing the parts replaces ExtractsPath
// atomically. The existing rows are never copied for an append; an upsert
// (one-row-per-person datasets) writes the dataset's new table whole.
//
// A delivery is all or nothing: the first problem is returned as a
// *LoadError naming the file, the row (1 = the first data row) and the
// column, and the extracts stay as they were. Deliveries and loads of one
// data directory are serialised by a lock file.
func Deliver(ctx context.Context, opts *DeliverOptions) (rep *DeliverReport, err error) {
	start := time.Now()
	if opts == nil || opts.Policy == nil || opts.DataDir == "" {
		return nil, errors.New("exec.Deliver: a policy and a data directory are required")
	}
	ds, ok := opts.Policy.Datasets[opts.Dataset]
	if !ok {
		return nil, fmt.Errorf("exec.Deliver: the policy declares no dataset %q", opts.Dataset)
	}
	if len(opts.Files) == 0 {
		return nil, errors.New("exec.Deliver: no files to deliver")
	}
	if err := checkThrough(ds, opts.Through); err != nil {
		return nil, fmt.Errorf("exec.Deliver: %w", err)
	}
	unlock, err := lockData(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("exec.Deliver: %w", err)
	}
	defer unlock()
	d := &delivery{opts: opts, ds: ds, p: &progress{w: opts.Progress}, now: time.Now().UTC()}
	defer d.cleanup()
	if rep, err = d.run(ctx); err != nil {
		var le *LoadError
		if errors.As(err, &le) {
			return nil, err
		}
		return nil, fmt.Errorf("exec.Deliver: %w", err)
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// delivery is one Deliver under way.
type delivery struct {
	opts *DeliverOptions
	ds   *policies.Dataset
	p    *progress
	now  time.Time

	db   *sql.DB
	conn *sql.Conn
	// parts of the new version, by alias; datasets their summaries.
	parts    map[string]string
	datasets map[string]*datasetState
	history  []historyRow
	counter  int64
	// key, when set, is the version key the new version keeps (a
	// compaction: the same data keeps its public ID); else a new one.
	key string
	// curKey is the current version file's key ("" for a base file).
	curKey string
	// created are files to remove unless the delivery succeeds.
	created []string
	done    bool
}

// datasetState is what a version records of one dataset.
type datasetState struct {
	sources      []string // part aliases, in order
	columns      []ColumnInfo
	rows         int64
	hashSum      string
	lastDelivery time.Time
	through      sql.NullTime
}

// historyRow is one entry of a version's delivery history.
type historyRow struct {
	counter              int64
	dataset, mode, files string
	rows                 int64
	fingerprint          string
	delivered            time.Time
	principal            string
}

func (d *delivery) cleanup() {
	if d.conn != nil {
		d.conn.Close()
	}
	if d.db != nil {
		d.db.Close()
	}
	if !d.done {
		for _, f := range d.created {
			removeDatabase(f)
		}
	}
}

// since is the time since the delivery started, for progress lines.
func (d *delivery) since() string { return time.Since(d.now).Round(time.Millisecond).String() }

func (d *delivery) exec(ctx context.Context, q string, args ...any) error {
	_, err := d.conn.ExecContext(ctx, q, args...)
	return err
}

func (d *delivery) run(ctx context.Context) (*DeliverReport, error) {
	cur := ExtractsPath(d.opts.DataDir)
	if _, err := os.Stat(cur); err != nil {
		return nil, fmt.Errorf("%s: %w (run `statgate load` first)", cur, err)
	}
	if err := d.open(ctx); err != nil {
		return nil, err
	}
	if err := d.readCurrent(ctx, cur); err != nil {
		return nil, fmt.Errorf("read the current extracts: %w", err)
	}
	d.p.printf("deliver %s: current extracts read (%s)", d.ds.Name, d.since())
	st := d.datasets[d.ds.Name]
	if st == nil {
		return nil, fmt.Errorf("dataset %s is not in the current extracts (run `statgate load` first)", d.ds.Name)
	}
	if st.through.Valid && d.opts.Through.IsZero() {
		// Without a declaration the dataset's "data up to" would stay at
		// the last declared month while rows of later months arrive.
		return nil, fmt.Errorf("%s's deliveries declare the period they cover (the last declared end: %s); give --through for this one too (a late delivery for an earlier period gives its own end; answers keep saying the latest)",
			d.ds.Name, st.through.Time.Format(time.DateOnly))
	}
	rep := &DeliverReport{Dataset: d.ds.Name, Mode: ModeAppend, Version: d.counter, Delivered: d.now, Path: cur}
	if d.ds.OneRowPerPerson {
		rep.Mode = ModeUpsert
	}
	// The part file. An append stages the delivered files in it and
	// keeps them as its table: the rows are written once, as a load
	// writes them. An upsert stages them in memory and writes the
	// dataset's new table (it is one row per person: small).
	alias := d.nextAlias()
	rel := filepath.Join("parts", fmt.Sprintf("v%06d-%s-%s.duckdb", d.counter, d.ds.Name, randomHex(4)))
	abs := filepath.Join(d.opts.DataDir, rel)
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, err
	}
	d.created = append(d.created, abs)
	if err := d.exec(ctx, "ATTACH "+quoteString(abs)+" AS "+quoteIdent(alias)); err != nil {
		return nil, err
	}
	stageIn := ""
	if rep.Mode == ModeAppend {
		stageIn = quoteIdent(alias) + "."
	}
	// Stage and check every file.
	var stages []string
	for i, f := range d.opts.Files {
		stage := stageIn + quoteIdent(fmt.Sprintf("%sdelivery_%d", stagePrefix, i))
		load, err := d.stage(ctx, f, stage, st.columns)
		if err != nil {
			return nil, err
		}
		for j, prev := range stages {
			if err := d.checkAcross(ctx, prev, d.opts.Files[j], stage, f); err != nil {
				return nil, err
			}
		}
		stages = append(stages, stage)
		rep.Files = append(rep.Files, load)
		rep.Rows += load.Rows
	}
	d.p.printf("deliver %s: %d rows read and checked (%s)", d.ds.Name, rep.Rows, d.since())
	cols := columnList(st.columns)
	var union []string
	for _, s := range stages {
		union = append(union, "SELECT "+cols+" FROM "+s)
	}
	delivered := "(" + strings.Join(union, " UNION ALL ") + ")"
	n, sum, err := tableSum(ctx, d.conn, delivered, st.columns)
	if err != nil {
		return nil, fmt.Errorf("sum the delivered rows: %w", err)
	}
	rep.Fingerprint = sumsFingerprint([]datasetSum{{name: d.ds.Name, columns: st.columns, rows: n, hashSum: sum}})

	target := quoteIdent(alias) + "." + quoteIdent(d.ds.Name)
	p := d.p
	err = p.during(d.ds.Name, func() error {
		if rep.Mode == ModeAppend {
			if len(stages) == 1 {
				return d.exec(ctx, "ALTER TABLE "+stages[0]+" RENAME TO "+quoteIdent(d.ds.Name))
			}
			if err := d.exec(ctx, "CREATE TABLE "+target+" AS SELECT "+cols+" FROM "+delivered); err != nil {
				return err
			}
			for _, s := range stages {
				if err := d.exec(ctx, "DROP TABLE "+s); err != nil {
					return err
				}
			}
			return nil
		}
		pk := quoteIdent(d.ds.PersonKey)
		return d.exec(ctx, "CREATE TABLE "+target+" AS SELECT "+cols+" FROM "+d.unionOf(st)+" c WHERE c."+pk+
			" NOT IN (SELECT "+pk+" FROM "+delivered+") UNION ALL SELECT "+cols+" FROM "+delivered)
	})
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", rel, err)
	}
	if err := d.exec(ctx, "CHECKPOINT "+quoteIdent(alias)); err != nil {
		return nil, err
	}
	d.parts[alias] = rel
	d.p.printf("deliver %s: part %s written (%s)", d.ds.Name, rel, d.since())
	if rep.Mode == ModeAppend {
		st.sources = append(st.sources, alias)
		st.rows += n
		if st.hashSum, err = addSums(st.hashSum, sum); err != nil {
			return nil, err
		}
	} else {
		old := st.rows
		st.sources = []string{alias}
		if st.rows, st.hashSum, err = tableSum(ctx, d.conn, target, st.columns); err != nil {
			return nil, err
		}
		rep.Replaced = n - (st.rows - old)
		d.dropUnused()
	}
	st.lastDelivery = d.now
	if t := d.opts.Through; !t.IsZero() && (!st.through.Valid || t.After(st.through.Time)) {
		st.through = sql.NullTime{Time: t, Valid: true}
	}
	files := make([]string, len(rep.Files))
	for i, f := range rep.Files {
		files[i] = filepath.Base(f.Source)
	}
	d.history = append(d.history, historyRow{counter: d.counter, dataset: d.ds.Name, mode: rep.Mode,
		files: strings.Join(files, ", "), rows: n, fingerprint: rep.Fingerprint, delivered: d.now, principal: d.opts.Principal})
	rep.Part, rep.Parts = abs, len(st.sources)

	commit := func(ctx context.Context, fp string) error {
		rep.VersionFingerprint = fp
		if d.opts.Commit == nil {
			return nil
		}
		return d.opts.Commit(ctx, rep)
	}
	if err := d.publish(ctx, cur, "deliver "+d.ds.Name, commit); err != nil {
		return nil, err
	}
	p.printf("deliver %s: version %d, %d rows (%s) in %.1fs", d.ds.Name, d.counter, rep.Rows, rep.Mode, time.Since(d.now).Seconds())
	return rep, nil
}

// open opens the in-memory DuckDB instance the delivery works in (not
// locked down: it reads the delivered files and writes the part).
func (d *delivery) open(ctx context.Context) error {
	connector, err := duckdb.NewConnector(dsn("", map[string]string{
		"autoinstall_known_extensions": "false",
		"allow_community_extensions":   "false",
	}), nil)
	if err != nil {
		return err
	}
	d.db = sql.OpenDB(connector)
	d.conn, err = d.db.Conn(ctx)
	return err
}

// publish writes the new version beside cur, checks it as a server will
// open it, calls commit with its fingerprint (the audit entry: an error
// abandons the version) and renames it over cur, which makes it live.
func (d *delivery) publish(ctx context.Context, cur, what string, commit func(ctx context.Context, fp string) error) error {
	tmp, err := tempPath(cur)
	if err != nil {
		return err
	}
	d.created = append(d.created, tmp)
	fp, err := d.writeVersion(ctx, tmp)
	if err != nil {
		return fmt.Errorf("write the version: %w", err)
	}
	if err := checkVersionFile(ctx, tmp, fp); err != nil {
		return fmt.Errorf("check the new version: %w", err)
	}
	d.p.printf("%s: version %d written and checked (%s)", what, d.counter, d.since())
	if err := commit(ctx, fp); err != nil {
		return err
	}
	d.p.printf("%s: committed (%s)", what, d.since())
	if err := os.Remove(cur + ".wal"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, cur); err != nil {
		return err
	}
	if err := syncDir(d.opts.DataDir); err != nil {
		return err
	}
	if err := writeCounter(d.opts.DataDir, d.counter); err != nil {
		return err
	}
	d.done = true
	return nil
}

// readCurrent reads the current extracts (a base file or a version
// file) into the delivery's state, attaching their parts under the
// aliases of the new version.
func (d *delivery) readCurrent(ctx context.Context, cur string) error {
	parts, err := readParts(ctx, cur)
	if err != nil {
		return err
	}
	d.parts, d.datasets = map[string]string{}, map[string]*datasetState{}
	last, err := readCounter(d.opts.DataDir)
	if err != nil {
		return err
	}
	if len(parts) == 0 {
		return d.readBase(ctx, cur, last)
	}
	if err := d.exec(ctx, "ATTACH "+quoteString(cur)+" AS cur (READ_ONLY)"); err != nil {
		return err
	}
	defer d.exec(context.WithoutCancel(ctx), "DETACH cur")
	for _, p := range parts {
		if err := d.exec(ctx, "ATTACH "+quoteString(filepath.Join(d.opts.DataDir, p.path))+" AS "+quoteIdent(p.alias)+" (READ_ONLY)"); err != nil {
			return err
		}
		d.parts[p.alias] = p.path
	}
	info, err := readVersion(ctx, d.conn, "cur", true)
	if err != nil {
		return err
	}
	if err := d.conn.QueryRowContext(ctx, "SELECT version_key FROM cur."+quoteIdent(versionTable)).Scan(&d.curKey); err != nil {
		return err
	}
	d.counter = max(last, info.Counter) + 1
	rows, err := d.conn.QueryContext(ctx, "SELECT dataset, sources, hash_sum, through FROM cur."+quoteIdent(datasetsTable))
	if err != nil {
		return err
	}
	for rows.Next() {
		var name, sources string
		st := &datasetState{}
		if err := rows.Scan(&name, &sources, &st.hashSum, &st.through); err != nil {
			rows.Close()
			return err
		}
		st.sources = strings.Split(sources, ",")
		st.rows, st.lastDelivery = info.Datasets[name].Rows, info.Datasets[name].LastDelivery
		d.datasets[name] = st
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for name, st := range d.datasets {
		if st.columns, err = catalogColumns(ctx, d.conn, "cur", name); err != nil {
			return err
		}
	}
	hist, err := d.conn.QueryContext(ctx, "SELECT counter, dataset, mode, files, row_count, fingerprint, delivered_at, principal FROM cur."+quoteIdent(deliveriesTable)+" ORDER BY counter")
	if err != nil {
		return err
	}
	defer hist.Close()
	for hist.Next() {
		var h historyRow
		if err := hist.Scan(&h.counter, &h.dataset, &h.mode, &h.files, &h.rows, &h.fingerprint, &h.delivered, &h.principal); err != nil {
			return err
		}
		d.history = append(d.history, h)
	}
	return hist.Err()
}

// readBase makes a base file the first part of the new version: a hard
// link under parts/ keeps the rows it holds even after a later load
// renames another file over ExtractsPath.
func (d *delivery) readBase(ctx context.Context, cur string, last int64) error {
	rel := filepath.Join("parts", fmt.Sprintf("base-%s.duckdb", randomHex(6)))
	abs := filepath.Join(d.opts.DataDir, rel)
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return err
	}
	if err := os.Link(cur, abs); err != nil {
		return fmt.Errorf("link the base file into parts/: %w", err)
	}
	d.created = append(d.created, abs)
	const alias = "p0"
	if err := d.exec(ctx, "ATTACH "+quoteString(abs)+" AS "+alias+" (READ_ONLY)"); err != nil {
		return err
	}
	d.parts[alias] = rel
	info, err := readVersion(ctx, d.conn, alias, false)
	if err != nil {
		return err
	}
	d.counter = max(last, info.Counter) + 1
	sums := map[string]string{}
	if cols, err := catalogColumns(ctx, d.conn, alias, loadTable); err == nil && slices.ContainsFunc(cols, func(c ColumnInfo) bool { return c.Name == "hash_sum" }) {
		rows, err := d.conn.QueryContext(ctx, "SELECT dataset, hash_sum FROM p0."+quoteIdent(loadTable)+" WHERE hash_sum IS NOT NULL")
		if err != nil {
			return err
		}
		for rows.Next() {
			var n, s string
			if err := rows.Scan(&n, &s); err != nil {
				rows.Close()
				return err
			}
			sums[n] = s
		}
		rows.Close()
	}
	names, err := catalogTables(ctx, d.conn, alias)
	if err != nil {
		return err
	}
	for _, name := range names {
		if isInternal(name) {
			continue
		}
		st := &datasetState{sources: []string{alias}}
		if st.columns, err = catalogColumns(ctx, d.conn, alias, name); err != nil {
			return err
		}
		table := alias + "." + quoteIdent(name)
		if s, ok := sums[name]; ok {
			st.hashSum, st.rows = s, info.Datasets[name].Rows
		} else if st.rows, st.hashSum, err = tableSum(ctx, d.conn, table, st.columns); err != nil {
			return err
		}
		st.lastDelivery = info.Datasets[name].LastDelivery
		if t := info.Datasets[name].Through; !t.IsZero() {
			st.through = sql.NullTime{Time: t, Valid: true}
		}
		if st.lastDelivery.IsZero() {
			st.lastDelivery = info.Created
		}
		d.datasets[name] = st
		d.history = append(d.history, historyRow{counter: info.Counter, dataset: name, mode: "load", rows: st.rows,
			fingerprint: sumsFingerprint([]datasetSum{{name: name, columns: st.columns, rows: st.rows, hashSum: st.hashSum}}),
			delivered:   st.lastDelivery})
	}
	return nil
}

// nextAlias is an alias no part of the version uses yet.
func (d *delivery) nextAlias() string {
	n := 0
	for a := range d.parts {
		if i, err := strconv.Atoi(a[1:]); err == nil && i >= n {
			n = i + 1
		}
	}
	return "p" + strconv.Itoa(n)
}

// unionOf selects a dataset's current rows: the UNION ALL of its parts.
func (d *delivery) unionOf(st *datasetState) string { return unionOf(d.ds.Name, st) }

// unionOf selects dataset name's rows in st: the UNION ALL of its parts.
func unionOf(name string, st *datasetState) string {
	cols := columnList(st.columns)
	sel := make([]string, len(st.sources))
	for i, a := range st.sources {
		sel[i] = "SELECT " + cols + " FROM " + quoteIdent(a) + "." + quoteIdent(name)
	}
	return "(" + strings.Join(sel, " UNION ALL ") + ")"
}

// dropUnused forgets the parts no dataset reads any more (an upsert's
// replaced table); the files stay for servers still on older versions.
func (d *delivery) dropUnused() {
	used := map[string]bool{}
	for _, st := range d.datasets {
		for _, a := range st.sources {
			used[a] = true
		}
	}
	for a := range d.parts {
		if !used[a] {
			delete(d.parts, a)
		}
	}
}

// columnList is the quoted, comma-separated column names.
func columnList(cols []ColumnInfo) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = quoteIdent(c.Name)
	}
	return strings.Join(names, ", ")
}

// writeVersion writes the new version file at path and returns its
// fingerprint.
func (d *delivery) writeVersion(ctx context.Context, path string) (string, error) {
	if err := d.exec(ctx, "ATTACH "+quoteString(path)+" AS ver"); err != nil {
		return "", err
	}
	key := d.key
	if key == "" {
		var err error
		if key, err = newVersionKey(); err != nil {
			return "", err
		}
	}
	names := make([]string, 0, len(d.datasets))
	for n := range d.datasets {
		names = append(names, n)
	}
	slices.Sort(names)
	var sums []datasetSum
	for _, n := range names {
		st := d.datasets[n]
		sums = append(sums, datasetSum{name: n, columns: st.columns, rows: st.rows, hashSum: st.hashSum})
	}
	fp := sumsFingerprint(sums)
	stmts := []string{
		"CREATE TABLE ver." + quoteIdent(versionTable) + " (counter BIGINT, created_at TIMESTAMP, version_key VARCHAR, fingerprint VARCHAR)",
		"CREATE TABLE ver." + quoteIdent(partsTable) + " (alias VARCHAR PRIMARY KEY, path VARCHAR)",
		"CREATE TABLE ver." + quoteIdent(datasetsTable) + " (dataset VARCHAR PRIMARY KEY, sources VARCHAR, row_count BIGINT, hash_sum VARCHAR, last_delivery TIMESTAMP, through DATE)",
		"CREATE TABLE ver." + quoteIdent(deliveriesTable) + " (counter BIGINT, dataset VARCHAR, mode VARCHAR, files VARCHAR, row_count BIGINT, fingerprint VARCHAR, delivered_at TIMESTAMP, principal VARCHAR)",
	}
	for _, s := range stmts {
		if err := d.exec(ctx, s); err != nil {
			return "", err
		}
	}
	if err := d.exec(ctx, "INSERT INTO ver."+quoteIdent(versionTable)+" VALUES ($1, $2, $3, $4)", d.counter, d.now, key, fp); err != nil {
		return "", err
	}
	for a, p := range d.parts {
		if err := d.exec(ctx, "INSERT INTO ver."+quoteIdent(partsTable)+" VALUES ($1, $2)", a, filepath.ToSlash(p)); err != nil {
			return "", err
		}
	}
	for _, n := range names {
		st := d.datasets[n]
		if err := d.exec(ctx, "INSERT INTO ver."+quoteIdent(datasetsTable)+" VALUES ($1, $2, $3, $4, $5, $6)",
			n, strings.Join(st.sources, ","), st.rows, st.hashSum, st.lastDelivery, st.through); err != nil {
			return "", err
		}
		cols := columnList(st.columns)
		sel := make([]string, len(st.sources))
		for i, a := range st.sources {
			sel[i] = "SELECT " + cols + " FROM " + quoteIdent(a) + "." + quoteIdent(n)
		}
		if err := d.exec(ctx, "CREATE VIEW ver."+quoteIdent(n)+" AS "+strings.Join(sel, " UNION ALL ")); err != nil {
			return "", err
		}
	}
	for _, h := range d.history {
		if err := d.exec(ctx, "INSERT INTO ver."+quoteIdent(deliveriesTable)+" VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			h.counter, h.dataset, h.mode, h.files, h.rows, h.fingerprint, h.delivered, h.principal); err != nil {
			return "", err
		}
	}
	if err := d.exec(ctx, "CHECKPOINT ver"); err != nil {
		return "", err
	}
	if err := d.exec(ctx, "DETACH ver"); err != nil {
		return "", err
	}
	return fp, nil
}

// checkVersionFile opens a new version file as a server will (read-only,
// locked down, parts attached) and checks that its fingerprint is fp and
// every dataset view reads.
func checkVersionFile(ctx context.Context, path, fp string) error {
	db, err := Open(ctx, &Options{Path: path, ReadOnly: true, Threads: 1})
	if err != nil {
		return err
	}
	defer db.Close()
	got, err := db.Fingerprint(ctx)
	if err != nil {
		return err
	}
	if got != fp {
		return fmt.Errorf("fingerprint %s, want %s", got, fp)
	}
	rows, err := db.TableRows(ctx)
	if err != nil {
		return err
	}
	for name := range rows {
		if err := db.Prepare(ctx, "SELECT * FROM "+quoteIdent(name)); err != nil {
			return fmt.Errorf("dataset %s: %w", name, err)
		}
	}
	return nil
}

// randomHex is n random bytes in hex.
func randomHex(n int) string {
	k, err := newVersionKey()
	if err != nil {
		panic(err)
	}
	return k[:2*n]
}
