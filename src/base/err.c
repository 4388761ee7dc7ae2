#include "base/err.h"

#include <errno.h>

int km_from_errno(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return KM_ENOENT;
	case EACCES:
	case EPERM:
		return KM_EACCES;
	case ENOMEM:
		return KM_ENOMEM;
	default:
		return KM_EIO;
	}
}

const char *km_strerror(int err)
{
	switch (err) {
	case KM_OK: return "ok";
	case KM_ENOMEM: return "out of memory";
	case KM_ETOOBIG: return "size limit exceeded";
	case KM_EINVAL: return "invalid argument";
	case KM_EIO: return "i/o error";
	case KM_ENOENT: return "not found";
	case KM_ERANGE: return "out of range";
	case KM_EPARSE: return "parse error";
	case KM_ETIMEDOUT: return "timed out";
	case KM_EHTTP: return "unexpected http status";
	case KM_ECONFLICT: return "conflict";
	case KM_EAGAIN: return "try again";
	case KM_EACCES: return "permission denied";
	case KM_EEXPIRED: return "expired";
	case KM_ENODATA: return "no data";
	}
	return "unknown error";
}
