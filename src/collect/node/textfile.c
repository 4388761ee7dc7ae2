/* textfile: the *.prom files of -collector.textfile.directory, exported as
 * node-exporter's textfile collector does (v1.12.1):
 *  - files are read in name order; a file that does not parse (any rejected
 *    line) or carries a sample timestamp is skipped whole, logged, and sets
 *    node_textfile_scrape_error to 1; the other files are unaffected;
 *  - node_textfile_mtime_seconds{file} (whole seconds) for each file read;
 *  - within one file's family, a label some samples lack is added to them
 *    with an empty value, labels printed in name order;
 *  - families of several files merge; the first series with a given name and
 *    labels wins (node-exporter's registry drops later duplicates and logs
 *    them, without setting the error), as does the first family's type;
 *  - a family whose HELP differs from the HELP another file gave first is
 *    dropped from the later file and sets the error;
 *  - a family without HELP gets "Metric read from <files joined by ', '>";
 *  - in the 0.0.4 text format a counter's "x_total" sample under "# TYPE x
 *    counter" is an untyped family of its own (expfmt's rule);
 *  - no directory configured: only node_textfile_scrape_error 0.
 * A family another collector already wrote is skipped and sets the error.
 * Known difference: a label written with an empty value ("a=\"\"") is
 * dropped by our parser (a Prometheus label with an empty value does not
 * exist) where node-exporter prints it. Histograms and summaries are passed
 * through sample by sample (no +Inf bucket added). */
#include "collect/node/node_int.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "base/vec.h"
#include "expo/parser.h"

/* Caps over all files of one scrape. */
#define TF_FILES_MAX 4096
#define TF_SAMPLES_MAX 1000000
#define TF_FAMILIES_MAX 100000
#define TF_LABELS_MAX 64

struct tf_family {
	char *name;            /* owned */
	char *help;            /* owned; NULL: none given (default text later) */
	char *files;           /* owned; ", "-joined paths of the files that had it */
	enum expo_ftype type;
};

struct tf_sample {
	size_t fam;            /* index into families */
	size_t seq;            /* arrival order: the first of duplicates wins */
	char *series;          /* owned: name{labels} as written */
	double v;
};

/* One parsed sample of the file being read, before label filling. */
struct tf_raw {
	size_t ffam;           /* index into the file's families */
	char *name;            /* owned */
	char *pairs;           /* owned: name\0value\0 ... */
	size_t npairs;
	double v;
};

struct tf_ffam {
	char *name;            /* owned */
	char *help;            /* owned, may be NULL */
	enum expo_ftype type;
	char *lnames[TF_LABELS_MAX]; /* borrowed from raws: union of label names */
	size_t nl;
};

struct tf_state {
	struct tf_family *fam;
	size_t nfam, fam_alloc;
	struct tf_sample *s;
	size_t ns, s_alloc;
	/* The file being parsed. */
	struct tf_raw *raw;
	size_t nraw, raw_alloc;
	struct tf_ffam *ffam;
	size_t nffam, ffam_alloc;
	bool bad;              /* a rejected line */
	bool bad_ts;           /* a sample with a timestamp */
	int rc;                /* allocation failure or cap */
	struct buf tmp;
	struct buf problems;   /* "; path: reason" per problem, logged once per scrape */
};

/* Notes one problem for the scrape's log line (cut when the cap is hit). */
static void problem(struct tf_state *st, const char *path, const char *why)
{
	if (st->problems.len)
		buf_adds(&st->problems, "; ");
	buf_adds(&st->problems, path);
	buf_adds(&st->problems, ": ");
	buf_adds(&st->problems, why);
}

static void file_reset(struct tf_state *st)
{
	for (size_t i = 0; i < st->nraw; i++) {
		free(st->raw[i].name);
		free(st->raw[i].pairs);
	}
	for (size_t i = 0; i < st->nffam; i++) {
		free(st->ffam[i].name);
		free(st->ffam[i].help);
	}
	st->nraw = st->nffam = 0;
	st->bad = st->bad_ts = false;
}

static void state_free(struct tf_state *st)
{
	file_reset(st);
	free(st->raw);
	free(st->ffam);
	for (size_t i = 0; i < st->nfam; i++) {
		free(st->fam[i].name);
		free(st->fam[i].help);
		free(st->fam[i].files);
	}
	free(st->fam);
	for (size_t i = 0; i < st->ns; i++)
		free(st->s[i].series);
	free(st->s);
	buf_fini(&st->tmp);
	buf_fini(&st->problems);
}

static bool is_suffix_family(enum expo_ftype t)
{
	return t == EXPO_FT_HISTOGRAM || t == EXPO_FT_SUMMARY;
}

/* The file's family of this sample, created on first sight. */
static int file_family(struct tf_state *st, const char *name, const char *help,
		       enum expo_ftype type, size_t *out)
{
	struct tf_ffam *f;

	for (size_t i = 0; i < st->nffam; i++) {
		if (strcmp(st->ffam[i].name, name) == 0) {
			*out = i;
			return 0;
		}
	}
	if (st->nffam >= TF_FAMILIES_MAX)
		return KM_ETOOBIG;
	if (VEC_RESERVE(st->ffam, st->ffam_alloc, st->nffam + 1, 16, TF_FAMILIES_MAX))
		return KM_ENOMEM;
	f = &st->ffam[st->nffam];
	memset(f, 0, sizeof(*f));
	f->name = strdup(name);
	f->help = help ? strdup(help) : NULL;
	f->type = type;
	if (!f->name || (help && !f->help)) {
		free(f->name);
		free(f->help);
		return KM_ENOMEM;
	}
	*out = st->nffam++;
	return 0;
}

static int on_sample(void *ctx, const struct expo_sample_ev *ev)
{
	struct tf_state *st = ctx;
	const char *fname = ev->family, *help = ev->help;
	enum expo_ftype type = ev->type;
	size_t nl = labels_count(ev->labels), len = 0, ffam;
	struct tf_raw *r;
	int rc;

	if (ev->has_ts) {
		st->bad_ts = true;
		return 0;
	}
	/* expfmt: outside histograms and summaries a sample belongs to the
	 * family of exactly its name. */
	if (!is_suffix_family(type) && strcmp(ev->name, ev->family) != 0) {
		fname = ev->name;
		help = NULL;
		type = EXPO_FT_UNTYPED;
	}
	if (st->ns + st->nraw >= TF_SAMPLES_MAX || nl > TF_LABELS_MAX)
		return KM_ETOOBIG;
	rc = file_family(st, fname, help, type, &ffam);
	if (rc)
		return rc;
	if (VEC_RESERVE(st->raw, st->raw_alloc, st->nraw + 1, 64, TF_SAMPLES_MAX))
		return KM_ENOMEM;
	r = &st->raw[st->nraw];
	for (size_t i = 0; i < nl; i++) {
		struct label_ref l = labels_at(ev->labels, i);

		len += l.name_len + l.value_len + 2;
	}
	r->name = strdup(ev->name);
	r->pairs = malloc(len ? len : 1);
	if (!r->name || !r->pairs) {
		free(r->name);
		free(r->pairs);
		return KM_ENOMEM;
	}
	len = 0;
	for (size_t i = 0; i < nl; i++) {
		struct label_ref l = labels_at(ev->labels, i);

		memcpy(r->pairs + len, l.name, l.name_len + 1);
		len += l.name_len + 1;
		memcpy(r->pairs + len, l.value, l.value_len + 1);
		len += l.value_len + 1;
	}
	r->npairs = nl;
	r->ffam = ffam;
	r->v = ev->value;
	st->nraw++;
	return 0;
}

static void on_error(void *ctx, uint64_t line_no, enum expo_perr reason, const char *line,
		     size_t len)
{
	struct tf_state *st = ctx;

	(void)line_no;
	(void)reason;
	(void)line;
	(void)len;
	st->bad = true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds name to the file family's label-name union (kept sorted). */
static int union_add(struct tf_ffam *f, char *name)
{
	for (size_t i = 0; i < f->nl; i++)
		if (strcmp(f->lnames[i], name) == 0)
			return 0;
	if (f->nl == TF_LABELS_MAX)
		return KM_ETOOBIG;
	f->lnames[f->nl++] = name;
	qsort(f->lnames, f->nl, sizeof(f->lnames[0]), cmp_str);
	return 0;
}

/* Global family for file family ff; KM_ENOENT when ff must be dropped (HELP
 * differing from the first one given: an error in node-exporter). */
static int global_family(struct tf_state *st, const struct tf_ffam *ff, const char *path,
			 size_t *out)
{
	struct tf_family *g;
	size_t i;
	char *files;

	for (i = 0; i < st->nfam; i++)
		if (strcmp(st->fam[i].name, ff->name) == 0)
			break;
	if (i < st->nfam) {
		g = &st->fam[i];
		if (ff->help && g->help && strcmp(ff->help, g->help) != 0)
			return KM_ENOENT;
		if (ff->help && !g->help) {
			g->help = strdup(ff->help);
			if (!g->help)
				return KM_ENOMEM;
		}
		files = malloc(strlen(g->files) + strlen(path) + 3);
		if (!files)
			return KM_ENOMEM;
		memcpy(files, g->files, strlen(g->files));
		memcpy(files + strlen(g->files), ", ", 2);
		memcpy(files + strlen(g->files) + 2, path, strlen(path) + 1);
		free(g->files);
		g->files = files;
		*out = i;
		return 0;
	}
	if (st->nfam >= TF_FAMILIES_MAX)
		return KM_ETOOBIG;
	if (VEC_RESERVE(st->fam, st->fam_alloc, st->nfam + 1, 16, TF_FAMILIES_MAX))
		return KM_ENOMEM;
	g = &st->fam[st->nfam];
	g->name = strdup(ff->name);
	g->help = ff->help ? strdup(ff->help) : NULL;
	g->files = strdup(path);
	g->type = ff->type;
	if (!g->name || (ff->help && !g->help) || !g->files) {
		free(g->name);
		free(g->help);
		free(g->files);
		return KM_ENOMEM;
	}
	*out = st->nfam++;
	return 0;
}

/* Moves the parsed file into the global set; *help_conflict is set when a
 * family had to be dropped. */
static int file_commit(struct tf_state *st, const char *path, bool *help_conflict)
{
	size_t gidx[256];
	size_t *map = gidx;
	int rc = 0;

	if (st->nffam > sizeof(gidx) / sizeof(gidx[0])) {
		map = calloc(st->nffam, sizeof(*map));
		if (!map)
			return KM_ENOMEM;
	}
	for (size_t i = 0; i < st->nraw && !rc; i++) {
		struct tf_raw *r = &st->raw[i];
		struct tf_ffam *f = &st->ffam[r->ffam];
		char *p = r->pairs;

		for (size_t j = 0; j < r->npairs && !rc; j++) {
			/* le and quantile are not family labels in node-exporter
			 * (they are bucket bounds and quantiles). */
			if (!(is_suffix_family(f->type) && (!strcmp(p, "le") || !strcmp(p, "quantile"))))
				rc = union_add(f, p);
			p += strlen(p) + 1;
			p += strlen(p) + 1;
		}
	}
	for (size_t i = 0; i < st->nffam && !rc; i++) {
		rc = global_family(st, &st->ffam[i], path, &map[i]);
		if (rc == KM_ENOENT) {
			*help_conflict = true;
			map[i] = SIZE_MAX;
			rc = 0;
		}
	}
	for (size_t i = 0; i < st->nraw && !rc; i++) {
		struct tf_raw *r = &st->raw[i];
		struct tf_ffam *f = &st->ffam[r->ffam];
		struct label_pair lp[TF_LABELS_MAX + 2];
		size_t n = 0;
		struct tf_sample *s;

		if (map[r->ffam] == SIZE_MAX)
			continue;
		/* Union labels in name order, each with this sample's value or "";
		 * then le/quantile where present. */
		for (size_t k = 0; k < f->nl; k++) {
			const char *val = "";
			char *p = r->pairs;

			for (size_t j = 0; j < r->npairs; j++) {
				char *v = p + strlen(p) + 1;

				if (strcmp(p, f->lnames[k]) == 0)
					val = v;
				p = v + strlen(v) + 1;
			}
			lp[n].name = f->lnames[k];
			lp[n++].value = val;
		}
		if (is_suffix_family(f->type)) {
			char *p = r->pairs;

			for (size_t j = 0; j < r->npairs; j++) {
				char *v = p + strlen(p) + 1;

				if (!strcmp(p, "le") || !strcmp(p, "quantile")) {
					lp[n].name = p;
					lp[n++].value = v;
				}
				p = v + strlen(v) + 1;
			}
		}
		buf_reset(&st->tmp);
		rc = expo_series(&st->tmp, r->name, lp, n);
		if (rc)
			break;
		rc = VEC_RESERVE(st->s, st->s_alloc, st->ns + 1, 256, TF_SAMPLES_MAX);
		if (rc)
			break;
		s = &st->s[st->ns];
		s->series = strndup(st->tmp.data, st->tmp.len);
		if (!s->series) {
			rc = KM_ENOMEM;
			break;
		}
		s->fam = map[r->ffam];
		s->seq = st->ns;
		s->v = r->v;
		st->ns++;
	}
	if (map != gidx)
		free(map);
	return rc;
}

static int cmp_sample(const void *a, const void *b)
{
	const struct tf_sample *x = a, *y = b;
	int c;

	if (x->fam != y->fam)
		return x->fam < y->fam ? -1 : 1;
	c = strcmp(x->series, y->series);
	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static enum expo_type out_type(enum expo_ftype t)
{
	switch (t) {
	case EXPO_FT_COUNTER: return EXPO_COUNTER;
	case EXPO_FT_GAUGE: return EXPO_GAUGE;
	case EXPO_FT_HISTOGRAM: return EXPO_HISTOGRAM;
	case EXPO_FT_SUMMARY: return EXPO_SUMMARY;
	default: return EXPO_UNTYPED;
	}
}

/* True when out, from its start, already holds "# HELP name " or
 * "# TYPE name " at the start of a line. */
static bool family_written(const struct buf *out, size_t from, const char *name)
{
	static const char *const pre[2] = { "# HELP ", "# TYPE " };
	size_t nl = strlen(name);

	for (int k = 0; k < 2; k++) {
		const char *p = out->data ? out->data + from : NULL;
		const char *end = out->data ? out->data + out->len : NULL;

		while (p && p < end) {
			const char *hit = memmem(p, (size_t)(end - p), pre[k], 7);

			if (!hit)
				break;
			if ((hit == out->data || hit[-1] == '\n') && (size_t)(end - hit) > 7 + nl &&
			    memcmp(hit + 7, name, nl) == 0 && hit[7 + nl] == ' ')
				return true;
			p = hit + 7;
		}
	}
	return false;
}

static int write_families(struct node_ctx *ctx, struct tf_state *st, bool *errored)
{
	struct buf *out = ctx->out;
	size_t i = 0;
	int rc = 0;

	if (st->ns)
		qsort(st->s, st->ns, sizeof(*st->s), cmp_sample);
	for (size_t f = 0; f < st->nfam && !rc; f++) {
		struct tf_family *g = &st->fam[f];
		const char *help = g->help;
		const char *prev = NULL;

		if (i >= st->ns || st->s[i].fam != f)
			continue;
		if (!help) {
			buf_reset(&st->tmp);
			rc = buf_adds(&st->tmp, "Metric read from ");
			if (!rc)
				rc = buf_adds(&st->tmp, g->files);
			if (rc)
				break;
			help = buf_cstr(&st->tmp);
		}
		/* A family another collector wrote (or node_textfile_*) is
		 * skipped, logged and counted as an error: two HELP blocks
		 * would break the whole exposition. (node-exporter's registry
		 * merges such samples when HELP, TYPE and labels agree and
		 * drops them otherwise; we always drop them.) */
		if (strncmp(g->name, "node_textfile_", 14) == 0 ||
		    family_written(out, ctx->out_start, g->name)) {
			*errored = true;
			problem(st, g->name, "family written by another collector, skipped");
			while (i < st->ns && st->s[i].fam == f)
				i++;
			continue;
		}
		rc = expo_family(out, g->name, help, out_type(g->type));
		for (; !rc && i < st->ns && st->s[i].fam == f; i++) {
			/* Later duplicates of a series are dropped, as the
			 * registry does. */
			if (prev && strcmp(prev, st->s[i].series) == 0)
				continue;
			prev = st->s[i].series;
			rc = buf_add(out, st->s[i].series, strlen(st->s[i].series));
			if (!rc)
				rc = expo_value(out, st->s[i].v, -1);
		}
	}
	return rc;
}

/* Reads and parses one file into st; *ok false when it must be skipped. */
static int read_file(struct node_ctx *ctx, struct tf_state *st, const char *dir,
		     const char *name, double *mtime, bool *ok)
{
	struct expo_parser_cb cb = { .sample = on_sample, .error = on_error, .ctx = st };
	struct stat sb;
	const char *data;
	char path[PATH_MAX];
	size_t len;
	int rc;

	*ok = false;
	file_reset(st);
	rc = node_path_join(path, sizeof(path), dir, name);
	if (rc)
		return 0;
	rc = procfile_read(&ctx->nc->pf2, dir, name, &data, &len);
	if (rc) {
		problem(st, path, km_strerror(rc));
		return 0;
	}
	rc = expo_parse_buffer(NULL, &cb, data, len, NULL);
	if (rc == KM_ENOMEM)
		return rc;
	if (rc || st->bad || st->bad_ts) {
		problem(st, path, rc ? km_strerror(rc) : st->bad ? "malformed line, file skipped" :
			"sample timestamps are not supported, file skipped");
		return 0;
	}
	if (stat(path, &sb) != 0)
		return 0;
	*mtime = (double)sb.st_mtim.tv_sec;
	*ok = true;
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.prom names of dir, sorted; *n of them in *names (owned). */
static int list_dir(const char *dir, char ***names, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t alloc = 0;
	int rc = 0;

	*names = NULL;
	*n = 0;
	if (!d)
		return km_from_errno(errno);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l < 5 || strcmp(de->d_name + l - 5, ".prom") != 0)
			continue;
		if (*n == TF_FILES_MAX) {
			rc = KM_ETOOBIG;
			break;
		}
		rc = VEC_RESERVE(v, alloc, *n + 1, 16, TF_FILES_MAX);
		if (rc)
			break;
		v[*n] = strdup(de->d_name);
		if (!v[*n]) {
			rc = KM_ENOMEM;
			break;
		}
		(*n)++;
	}
	closedir(d);
	if (v)
		qsort(v, *n, sizeof(*v), cmp_name);
	*names = v;
	return rc;
}

struct tf_mtime {
	char *path;            /* owned */
	double t;
};

static int collect_dir(struct node_ctx *ctx, struct tf_state *st, const char *dir,
		       struct tf_mtime **mt, size_t *nmt, size_t *mt_alloc, bool *errored)
{
	char **names = NULL;
	size_t n = 0;
	int rc = list_dir(dir, &names, &n);

	if (rc) {
		*errored = true;
		problem(st, dir, km_strerror(rc));
		rc = rc == KM_ENOMEM ? rc : 0;
	}
	for (size_t i = 0; !rc && i < n; i++) {
		char path[PATH_MAX];
		double t = 0;
		bool ok, conflict = false;

		rc = read_file(ctx, st, dir, names[i], &t, &ok);
		if (rc)
			break;
		if (!ok) {
			*errored = true;
			continue;
		}
		if (node_path_join(path, sizeof(path), dir, names[i]))
			continue;
		rc = file_commit(st, path, &conflict);
		if (rc)
			break;
		if (conflict) {
			*errored = true;
			problem(st, path, "HELP differs from an earlier file's, family dropped");
		}
		rc = VEC_RESERVE(*mt, *mt_alloc, *nmt + 1, 16, TF_FILES_MAX);
		if (rc)
			break;
		(*mt)[*nmt].path = strdup(path);
		if (!(*mt)[*nmt].path) {
			rc = KM_ENOMEM;
			break;
		}
		(*mt)[(*nmt)++].t = t;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int cmp_mtime(const void *a, const void *b)
{
	return strcmp(((const struct tf_mtime *)a)->path, ((const struct tf_mtime *)b)->path);
}

int node_textfile(struct node_ctx *ctx)
{
	struct tf_state st;
	struct tf_mtime *mt = NULL;
	size_t nmt = 0, mt_alloc = 0;
	bool errored = false;
	glob_t g;
	int rc = 0;

	memset(&st, 0, sizeof(st));
	buf_init(&st.tmp, 1u << 20);
	buf_init(&st.problems, 4096);
	file_reset(&st);
	if (ctx->textfile_dir && *ctx->textfile_dir) {
		/* As node-exporter: a glob, or the path itself when it matches
		 * nothing. */
		int grc = glob(ctx->textfile_dir, GLOB_NOSORT, NULL, &g);

		if (grc == 0) {
			qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), cmp_name);
			for (size_t i = 0; !rc && i < g.gl_pathc; i++)
				rc = collect_dir(ctx, &st, g.gl_pathv[i], &mt, &nmt, &mt_alloc,
						 &errored);
			globfree(&g);
		} else {
			rc = collect_dir(ctx, &st, ctx->textfile_dir, &mt, &nmt, &mt_alloc,
					 &errored);
		}
	}
	if (!rc)
		rc = write_families(ctx, &st, &errored);
	if (!rc && nmt) {
		qsort(mt, nmt, sizeof(*mt), cmp_mtime);
		rc = expo_family(ctx->out, "node_textfile_mtime_seconds",
				 "Unixtime mtime of textfiles successfully read.", EXPO_GAUGE);
		for (size_t i = 0; !rc && i < nmt; i++) {
			struct label_pair l = { "file", mt[i].path };

			rc = expo_sample(ctx->out, "node_textfile_mtime_seconds", &l, 1, mt[i].t);
		}
	}
	if (!rc)
		rc = node_write1(ctx->out, "node_textfile_scrape_error",
				 "1 if there was an error opening or reading a file, 0 otherwise",
				 EXPO_GAUGE, errored ? 1 : 0);
	if (st.problems.len)
		log_limited(&ctx->nc->textfile_limit, 60000, LOG_WARN, "node", "textfile: %s",
			    buf_cstr(&st.problems));
	for (size_t i = 0; i < nmt; i++)
		free(mt[i].path);
	free(mt);
	state_free(&st);
	return rc;
}
