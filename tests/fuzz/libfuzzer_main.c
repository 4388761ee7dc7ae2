/* Thin libFuzzer wrapper: build.sh compiles this once per target with
 * -DFUZZ_FN=fuzz_<target>. */
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return FUZZ_FN(data, size);
}
