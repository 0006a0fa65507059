/*
 * check_spool.c — uploads on disk (app/spool.c): the limit, the hash
 * (against known SHA-256 values), reading back, emptying for a retry, and
 * a spool written by another process through its descriptor.
 */
#include <check.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iotd.h"
#include "spool.h"

/* FIPS 180-2 test vectors */
#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const char *dir(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

START_TEST(test_write_hash_and_read_back)
{
    iotd_spool s;
    ck_assert_int_eq(iotd_spool_open(&s, dir(), 0), IOTD_OK);
    ck_assert_int_ge(s.fd, 0);
    ck_assert_int_eq(iotd_spool_write(&s, "a", 1), IOTD_OK);
    ck_assert_int_eq(iotd_spool_write(&s, "bc", 2), IOTD_OK);
    ck_assert_int_eq(iotd_spool_finish(&s), IOTD_OK);
    ck_assert_str_eq(s.sha256_hex, SHA_ABC);
    ck_assert_uint_eq(s.len, 3);
    char back[8] = "";
    ck_assert_int_eq(iotd_spool_pread(&s, back, sizeof back, 0), 3);
    ck_assert_mem_eq(back, "abc", 3);
    ck_assert_int_eq(iotd_spool_pread(&s, back, sizeof back, 1), 2);
    ck_assert_int_eq(iotd_spool_write(&s, "d", 1), IOTD_ERROR); /* finished */
    /* the file has no name: nothing is left behind */
    char link[64], target[512];
    snprintf(link, sizeof link, "/proc/self/fd/%d", s.fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    ck_assert_int_gt(n, 0);
    target[n] = '\0';
    ck_assert_msg(strstr(target, "(deleted)") != NULL || strstr(target, "/#") != NULL, "named: %s", target);
    iotd_spool_close(&s);
    ck_assert_int_eq(s.fd, -1);
    iotd_spool_close(&s); /* twice is harmless */
}
END_TEST

START_TEST(test_limit)
{
    iotd_spool s;
    ck_assert_int_eq(iotd_spool_open(&s, dir(), 4), IOTD_OK);
    ck_assert_int_eq(iotd_spool_write(&s, "abc", 3), IOTD_OK);
    ck_assert_int_eq(iotd_spool_write(&s, "de", 2), IOTD_DECLINED);
    ck_assert_uint_eq(s.len, 3); /* nothing of the refused write */
    ck_assert_int_eq(iotd_spool_write(&s, "d", 1), IOTD_OK);
    ck_assert_int_eq(iotd_spool_finish(&s), IOTD_OK);
    iotd_spool_close(&s);
}
END_TEST

START_TEST(test_reset_for_a_retry)
{
    iotd_spool s;
    ck_assert_int_eq(iotd_spool_open(&s, dir(), 0), IOTD_OK);
    ck_assert_int_eq(iotd_spool_write(&s, "partial download", 16), IOTD_OK);
    ck_assert_int_eq(iotd_spool_reset(&s), IOTD_OK);
    ck_assert_uint_eq(s.len, 0);
    ck_assert_int_eq(iotd_spool_write(&s, "abc", 3), IOTD_OK);
    ck_assert_int_eq(iotd_spool_finish(&s), IOTD_OK);
    ck_assert_str_eq(s.sha256_hex, SHA_ABC);
    struct stat st;
    ck_assert_int_eq(fstat(s.fd, &st), 0);
    ck_assert_int_eq(st.st_size, 3);
    ck_assert_int_eq(iotd_spool_reset(&s), IOTD_ERROR); /* finished */
    iotd_spool_close(&s);
}
END_TEST

START_TEST(test_copy_from_a_file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/check_spool.XXXXXX", dir());
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    size_t n = 200000;
    char *data = malloc(n), *back = malloc(n);
    ck_assert(data && back);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i % 251);
    ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    iotd_spool s;
    ck_assert_int_eq(iotd_spool_open(&s, dir(), n), IOTD_OK);
    ck_assert_int_eq(iotd_spool_copy_fd(&s, fd), IOTD_OK);
    ck_assert_int_eq(iotd_spool_finish(&s), IOTD_OK);
    ck_assert_uint_eq(s.len, n);
    ck_assert_int_eq(iotd_spool_pread(&s, back, n, 0), (long)n);
    ck_assert_mem_eq(back, data, n);
    iotd_spool_close(&s);
    /* one byte over the limit */
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    ck_assert_int_eq(iotd_spool_open(&s, dir(), n - 1), IOTD_OK);
    ck_assert_int_eq(iotd_spool_copy_fd(&s, fd), IOTD_DECLINED);
    iotd_spool_close(&s);
    close(fd);
    unlink(path);
    free(data);
    free(back);
}
END_TEST

START_TEST(test_written_by_another_process)
{
    iotd_spool s;
    ck_assert_int_eq(iotd_spool_open(&s, dir(), 0), IOTD_OK);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(write(s.fd, "abc", 3) == 3 ? 0 : 1);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(status, 0);
    ck_assert_int_eq(iotd_spool_finish_written(&s, 2), IOTD_DECLINED); /* over its limit */
    iotd_spool_close(&s);

    ck_assert_int_eq(iotd_spool_open(&s, dir(), 0), IOTD_OK);
    ck_assert_int_eq(iotd_spool_finish_written(&s, 10), IOTD_OK); /* nothing written */
    ck_assert_str_eq(s.sha256_hex, SHA_EMPTY);
    ck_assert_uint_eq(s.len, 0);
    iotd_spool_close(&s);

    ck_assert_int_eq(iotd_spool_open(&s, dir(), 0), IOTD_OK);
    ck_assert_int_eq(write(s.fd, "abc", 3), 3);
    ck_assert_int_eq(iotd_spool_finish_written(&s, 3), IOTD_OK);
    ck_assert_str_eq(s.sha256_hex, SHA_ABC);
    ck_assert_uint_eq(s.len, 3);
    iotd_spool_close(&s);
}
END_TEST

/* A multipart body reaches the spool in pieces cut at every CR: small
 * writes are gathered, not written one by one, and pieces of every size
 * mixed still give the file and hash of one write. */
START_TEST(test_small_writes_are_gathered)
{
    iotd_spool s;
    ck_assert_int_eq(iotd_spool_open(&s, dir(), 0), IOTD_OK);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(iotd_spool_write(&s, "x", 1), IOTD_OK);
    struct stat st;
    ck_assert_int_eq(fstat(s.fd, &st), 0);
    ck_assert_int_eq(st.st_size, 0); /* still in the buffer: no write(2) per piece */
    ck_assert_uint_eq(s.len, 1000);
    iotd_spool_close(&s);

    size_t sizes[] = {1, 7, 65535, 1, 65536, 3, 70000, 200, 131072, 1, 65534, 2};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        total += sizes[i];
    char *data = malloc(total), *back = malloc(total);
    ck_assert(data && back);
    for (size_t i = 0; i < total; i++)
        data[i] = (char)((i * 7919) % 253);
    ck_assert_int_eq(iotd_spool_open(&s, dir(), total), IOTD_OK);
    size_t at = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        ck_assert_int_eq(iotd_spool_write(&s, data + at, sizes[i]), IOTD_OK);
        at += sizes[i];
    }
    ck_assert_int_eq(iotd_spool_write(&s, "y", 1), IOTD_DECLINED); /* the limit counts buffered bytes */
    ck_assert_int_eq(iotd_spool_finish(&s), IOTD_OK);
    ck_assert_int_eq(fstat(s.fd, &st), 0);
    ck_assert_int_eq(st.st_size, (off_t)total);
    ck_assert_int_eq(iotd_spool_pread(&s, back, total, 0), (long)total);
    ck_assert_mem_eq(back, data, total);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    ck_assert_int_eq(EVP_Digest(data, total, md, &mdlen, EVP_sha256(), NULL), 1);
    char hex[65];
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    ck_assert_str_eq(s.sha256_hex, hex);
    iotd_spool_close(&s);

    /* a reset drops what was buffered too */
    ck_assert_int_eq(iotd_spool_open(&s, dir(), 0), IOTD_OK);
    ck_assert_int_eq(iotd_spool_write(&s, "partial", 7), IOTD_OK);
    ck_assert_int_eq(iotd_spool_reset(&s), IOTD_OK);
    ck_assert_int_eq(iotd_spool_write(&s, "abc", 3), IOTD_OK);
    ck_assert_int_eq(iotd_spool_finish(&s), IOTD_OK);
    ck_assert_str_eq(s.sha256_hex, SHA_ABC);
    ck_assert_int_eq(fstat(s.fd, &st), 0);
    ck_assert_int_eq(st.st_size, 3);
    iotd_spool_close(&s);
    free(data);
    free(back);
}
END_TEST

START_TEST(test_missing_directory)
{
    iotd_spool s;
    ck_assert_int_eq(iotd_spool_open(&s, "/nonexistent/iotd-spool", 0), IOTD_ERROR);
    ck_assert_int_eq(s.fd, -1);
    ck_assert_ptr_null(s.hash);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("spool");
    TCase *tc = tcase_create("spool");
    tcase_add_test(tc, test_write_hash_and_read_back);
    tcase_add_test(tc, test_limit);
    tcase_add_test(tc, test_reset_for_a_retry);
    tcase_add_test(tc, test_copy_from_a_file);
    tcase_add_test(tc, test_written_by_another_process);
    tcase_add_test(tc, test_small_writes_are_gathered);
    tcase_add_test(tc, test_missing_directory);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
