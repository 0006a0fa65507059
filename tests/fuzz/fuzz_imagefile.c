/*
 * fuzz_imagefile.c — upload sniffing (JPEG, PNG, GIF, WebP headers).
 *
 * The input is the uploaded file. An accepted file has a known type and
 * extension and dimensions within 1..IOTD_IMAGEFILE_MAX_DIMENSION; a
 * refused one has a message that fits its buffer. The quick sniff of the
 * first bytes (what a worker checks before starting iotd-render) never
 * refuses a file the full check accepts, and names the same type.
 */
#include "fuzz.h"

#include "imagefile.h"
#include "iotd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    iotd_imagefile_info info;
    char err[IOTD_IMAGEFILE_ERR_LEN];
    int rc = iotd_imagefile_detect(data, size, &info, err, sizeof err);
    if (rc == IOTD_OK) {
        FUZZ_CHECK(info.content_type && info.extension);
        FUZZ_CHECK(strncmp(info.content_type, "image/", 6) == 0);
        FUZZ_CHECK(info.width >= 1 && info.width <= IOTD_IMAGEFILE_MAX_DIMENSION);
        FUZZ_CHECK(info.height >= 1 && info.height <= IOTD_IMAGEFILE_MAX_DIMENSION);
    } else {
        FUZZ_CHECK(rc == IOTD_DECLINED);
        FUZZ_CHECK(memchr(err, '\0', sizeof err) && err[0]);
    }
    iotd_imagefile_info quick;
    size_t head = size < IOTD_IMAGEFILE_SNIFF_BYTES ? size : IOTD_IMAGEFILE_SNIFF_BYTES;
    int sniffed = iotd_imagefile_sniff(data, head, &quick, err, sizeof err);
    FUZZ_CHECK(sniffed == IOTD_OK || sniffed == IOTD_DECLINED);
    if (rc == IOTD_OK) {
        FUZZ_CHECK(sniffed == IOTD_OK);
        FUZZ_CHECK(strcmp(quick.content_type, info.content_type) == 0);
        FUZZ_CHECK(strcmp(quick.extension, info.extension) == 0);
    }
    if (sniffed == IOTD_DECLINED)
        FUZZ_CHECK(memchr(err, '\0', sizeof err) && err[0]);
    return 0;
}
