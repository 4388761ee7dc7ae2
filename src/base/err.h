/* Project error codes. Every function that acts returns 0 on success or one
 * of these negative codes; predicates return bool; constructors return a
 * pointer or NULL. */
#ifndef K8SMON_BASE_ERR_H
#define K8SMON_BASE_ERR_H

enum {
	KM_OK = 0,
	KM_ENOMEM = -1,    /* allocation failed */
	KM_ETOOBIG = -2,   /* a hard cap was hit */
	KM_EINVAL = -3,    /* malformed input or argument */
	KM_EIO = -4,       /* read/write/syscall failure */
	KM_ENOENT = -5,    /* file or object does not exist */
	KM_ERANGE = -6,    /* number out of range */
	KM_EPARSE = -7,    /* syntax error in parsed data */
	KM_ETIMEDOUT = -8, /* deadline passed */
	KM_EHTTP = -9,     /* unexpected HTTP status */
	KM_ECONFLICT = -10,/* resourceVersion conflict */
	KM_EAGAIN = -11,   /* try again later */
	KM_EACCES = -12,   /* permission denied */
	KM_EEXPIRED = -13, /* resourceVersion too old (410) */
	KM_ENODATA = -14,  /* nothing to report here (a node subsystem absent) */
};

/* The KM_* code for a failed system call's errno (ENOENT/ENOTDIR ->
 * KM_ENOENT, EACCES/EPERM -> KM_EACCES, ENOMEM -> KM_ENOMEM, else KM_EIO). */
int km_from_errno(int e);

/* Static string for a KM_* code; never NULL. */
const char *km_strerror(int err);

#endif
