// The buffer-less streaming functions (ZSTD_decompressBegin, ZSTD_decompressContinue,
// ZSTD_nextSrcSizeToDecompress) are declared under ZSTD_STATIC_LINKING_ONLY and
// exported by the shared library.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
