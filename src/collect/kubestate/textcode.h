/* A lossless substitution code for the kube-state store's rendered lines.
 *
 * Two thirds of a stored pod is label syntax: ",container=\"", ",resource=\"",
 * "\"} " repeated in every line of every family. The store keeps each
 * family segment coded (the default labels stay plain: they are copied as
 * the prefix of every line):
 *   0x00 n   "\",NAME=\""  (closing quote of one value, then the next label)
 *   0x01 n   ",NAME=\""
 *   0x02     "\"} "
 *   0x03 b   the byte b (b < 4: a literal that looks like a code)
 * n is a name byte (ks_tc_name_byte): never 0..3 and never '\n', so a coded
 * line still ends at its only '\n' and memchr finds line ends as before.
 * Every other byte stands for itself. The names (at most KS_TC_NAMES, each
 * at most KS_TC_NAME_MAX bytes) are collected as objects are coded; a name
 * past either limit is simply left plain.
 *
 * Threads: ks_tc_encode may run on several threads (it locks the
 * dictionary). Entries are append-only and immutable once added, so a
 * reader holding an object coded with entry n may read entry n without the
 * lock (the store's lock orders the object after its names). */
#ifndef K8SMON_COLLECT_KUBESTATE_TEXTCODE_H
#define K8SMON_COLLECT_KUBESTATE_TEXTCODE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define KS_TC_NAMES 251     /* bytes 4..255 but '\n' */
#define KS_TC_NAME_MAX 62
/* A coded byte decodes to at most this many bytes: 0x00 n is 2 bytes for
 * "\"," NAME "=\"", 4 + KS_TC_NAME_MAX. */
#define KS_TC_EXPAND_MAX ((4 + KS_TC_NAME_MAX + 1) / 2)

struct ks_tc_names {
	unsigned count;
	uint8_t len[KS_TC_NAMES];
	char name[KS_TC_NAMES][KS_TC_NAME_MAX];
};

struct ks_tc_dict {
	pthread_mutex_t lock;
	struct ks_tc_names names;
	/* Open addressing over names: index + 1, 0 = empty. */
	uint16_t slot[1024];
};

/* Returns 0 or a negative error code. */
int ks_tc_dict_init(struct ks_tc_dict *d);
void ks_tc_dict_fini(struct ks_tc_dict *d);
/* A copy of the names added so far (for a reader that outlives d). */
void ks_tc_names_copy(struct ks_tc_dict *d, struct ks_tc_names *out);

/* Appends the code of in[0..len) to out; 0 or a negative error code (out
 * may then hold part of it: the caller discards out). */
int ks_tc_encode(struct ks_tc_dict *d, const char *in, size_t len, struct buf *out);
/* Length of in[0..len) decoded. */
size_t ks_tc_decoded_len(const struct ks_tc_names *nm, const char *in, size_t len);
/* Decodes in[0..len) into w, which has room for ks_tc_decoded_len() bytes;
 * returns the bytes written. */
size_t ks_tc_decode(const struct ks_tc_names *nm, const char *in, size_t len, char *w);

#endif
