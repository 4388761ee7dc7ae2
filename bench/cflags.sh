# Sourced (POSIX sh) by the benchmarks that link a C driver against
# build/libk8smon.a: builds the archive and sets CF (the Makefile's CFLAGS,
# without the version define) and LD (the libraries the archive needs).
make -s build/libk8smon.a >/dev/null
FLAGS=$(printf 'k8smon-print-flags:\n\t@echo "$(CFLAGS)"; echo "$(LIBK8SMON_LIBS)"\n' |
	make -s -f Makefile -f - k8smon-print-flags)
CF=$(echo "$FLAGS" | sed -n 1p | sed "s/-DK8SMON_VERSION=[^ ]*//")
LD=$(echo "$FLAGS" | sed -n 2p)
