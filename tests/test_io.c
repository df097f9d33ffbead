/* test_io.c -- .npy reading and writing, SHA-256, whole-file reads, atomic
 * writes and staged output directories. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "test_util.h"

#include "vbt_io.h"
#include "vbt_text.h"
#include "vbt_connectome.h"
#include "vbt_parcellation.h"

/* ---- helpers ---------------------------------------------------------- */

static void *read_file(const char *path, size_t *len)
{
    char *buf;
    vbt_msg msg;
    int rc = vbt_file_read_all(path, &buf, len, 0, &msg);
    if (rc != VBT_OK)
        fail_msg("read %s: %s", path, msg.text);
    return buf;
}

/* Assemble an .npy image: magic, version, header-length field, the header
 * text verbatim, then `dlen` data bytes.  Returns the total length. */
static size_t make_npy(unsigned char *out, size_t cap, int major, const char *header,
                       const void *data, size_t dlen)
{
    size_t hl = strlen(header), pre = major == 1 ? 10 : 12;
    assert_true(pre + hl + dlen <= cap);
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (unsigned char)major;
    out[7] = 0;
    out[8] = (unsigned char)(hl & 0xff);
    out[9] = (unsigned char)(hl >> 8);
    if (major != 1) {
        out[10] = (unsigned char)(hl >> 16);
        out[11] = (unsigned char)(hl >> 24);
    }
    memcpy(out + pre, header, hl);
    if (dlen)
        memcpy(out + pre + hl, data, dlen);
    return pre + hl + dlen;
}

/* Parse and expect failure with `code` and a message containing `part`. */
static void expect_parse_error(const void *buf, size_t len, int code, const char *part)
{
    vbt_array a;
    vbt_msg msg;
    memset(&msg, 0, sizeof msg);
    int rc = vbt_npy_parse(buf, len, "x.npy", &a, &msg);
    if (rc != code || !strstr(msg.text, part) || strncmp(msg.text, "'x.npy'", 7) != 0
        || strchr(msg.text, '\n'))
        fail_msg("rc %d (want %d), message \"%s\" (want \"%s\")", rc, code, msg.text,
                 part);
    assert_null(a.data);
    assert_int_equal(a.size, 0);
    assert_int_equal(a.ndim, 0);
}

static double entropic(size_t i)
{
    return 2.385 * (double)i - 0.37;
}

/* ---- hashing ---------------------------------------------------------- */

static void test_sha256_buffer(void **state)
{
    (void)state;
    char hex[65];
    vbt_sha256_buffer("", 0, hex);
    assert_string_equal(hex,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    vbt_sha256_buffer("abc", 3, hex);
    assert_string_equal(hex,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    vbt_sha256_buffer(two, strlen(two), hex);
    assert_string_equal(hex,
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sha256_file(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char hex[65], hex2[65];
    vbt_msg msg;

    tu_write_file(tu_path(dir, "abc.txt"), "abc");
    assert_int_equal(vbt_sha256_file(tu_path(dir, "abc.txt"), hex, &msg), VBT_OK);
    assert_string_equal(hex,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    tu_write_bytes(tu_path(dir, "empty"), "", 0);
    assert_int_equal(vbt_sha256_file(tu_path(dir, "empty"), hex, &msg), VBT_OK);
    assert_string_equal(hex,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

    /* Several 64 KiB chunks plus a partial one: file and buffer agree. */
    size_t n = 3 * 65536 + 1234;
    unsigned char *big = malloc(n);
    assert_non_null(big);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        big[i] = (unsigned char)x;
    }
    tu_write_bytes(tu_path(dir, "big"), big, n);
    assert_int_equal(vbt_sha256_file(tu_path(dir, "big"), hex, &msg), VBT_OK);
    vbt_sha256_buffer(big, n, hex2);
    assert_string_equal(hex, hex2);
    big[n / 2] ^= 1;
    vbt_sha256_buffer(big, n, hex2);
    assert_string_not_equal(hex, hex2);
    free(big);

    const char *missing = tu_path(dir, "missing");
    assert_int_equal(vbt_sha256_file(missing, hex, &msg), VBT_EIO);
    assert_non_null(strstr(msg.text, "missing"));
    assert_non_null(strstr(msg.text, strerror(ENOENT)));

    tu_rmtree(dir);
    free(dir);
}

/* ---- whole files ------------------------------------------------------ */

static void test_read_all(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *buf;
    size_t len;
    vbt_msg msg;

    tu_write_bytes(tu_path(dir, "f"), "a\0bc", 4);
    assert_int_equal(vbt_file_read_all(tu_path(dir, "f"), &buf, &len, 0, &msg), VBT_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(buf, "a\0bc", 5); /* includes the added NUL */
    free(buf);

    tu_write_bytes(tu_path(dir, "e"), "", 0);
    assert_int_equal(vbt_file_read_all(tu_path(dir, "e"), &buf, &len, 0, &msg), VBT_OK);
    assert_int_equal(len, 0);
    assert_int_equal(buf[0], '\0');
    free(buf);

    /* Size limit: exactly at the limit passes, one byte over does not. */
    assert_int_equal(vbt_file_read_all(tu_path(dir, "f"), &buf, &len, 4, &msg), VBT_OK);
    free(buf);
    assert_int_equal(vbt_file_read_all(tu_path(dir, "f"), &buf, &len, 3, &msg),
                     VBT_ERANGE);
    assert_null(buf);
    assert_non_null(strstr(msg.text, "too large"));

    assert_int_equal(vbt_file_read_all(dir, &buf, &len, 0, &msg), VBT_EIO);
    assert_null(buf);
    assert_non_null(strstr(msg.text, "is a directory"));

    assert_int_equal(vbt_file_read_all(tu_path(dir, "nope"), &buf, &len, 0, &msg),
                     VBT_EIO);
    assert_non_null(strstr(msg.text, "nope"));
    assert_non_null(strstr(msg.text, strerror(ENOENT)));

    tu_rmtree(dir);
    free(dir);
}

static void test_write_atomic(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    const char *p = tu_path(dir, "out.txt");
    char expect[256];
    vbt_msg msg;
    size_t len;
    char *buf;
    mode_t old_mask = umask(022);

    assert_int_equal(vbt_file_write_atomic(p, "first 2.385", 11, 0, &msg), VBT_OK);
    assert_int_equal(tu_count_entries(dir), 1);
    buf = read_file(p, &len);
    assert_string_equal(buf, "first 2.385");
    free(buf);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);

    /* Refused without overwrite, content untouched, no temp left. */
    assert_int_equal(vbt_file_write_atomic(p, "second", 6, 0, &msg), VBT_EEXIST);
    snprintf(expect, sizeof expect, "'%s' exists (use --force to overwrite)", p);
    assert_string_equal(msg.text, expect);
    assert_int_equal(tu_count_entries(dir), 1);
    buf = read_file(p, &len);
    assert_string_equal(buf, "first 2.385");
    free(buf);

    assert_int_equal(vbt_file_write_atomic(p, "second", 6, 1, &msg), VBT_OK);
    assert_int_equal(tu_count_entries(dir), 1);
    buf = read_file(p, &len);
    assert_string_equal(buf, "second");
    free(buf);

    /* Empty file. */
    assert_int_equal(vbt_file_write_atomic(tu_path(dir, "empty"), NULL, 0, 0, &msg),
                     VBT_OK);
    assert_int_equal(tu_count_entries(dir), 2);

    /* A missing directory fails cleanly. */
    assert_int_equal(vbt_file_write_atomic(tu_path(dir, "no/such.txt"), "x", 1, 1, &msg),
                     VBT_EIO);
    assert_non_null(strstr(msg.text, "no/such.txt"));
    assert_int_equal(tu_count_entries(dir), 2);

    /* Replacing a directory fails and leaves no temp behind. */
    assert_int_equal(mkdir(tu_path(dir, "sub"), 0755), 0);
    assert_int_not_equal(vbt_file_write_atomic(tu_path(dir, "sub"), "x", 1, 1, &msg),
                         VBT_OK);
    assert_int_equal(tu_count_entries(dir), 3);
    assert_int_equal(tu_count_entries(tu_path(dir, "sub")), 0);

    /* A bare file name goes to the current directory. */
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(vbt_file_write_atomic("bare.txt", "b", 1, 0, &msg), VBT_OK);
    assert_int_equal(chdir(cwd), 0);
    assert_true(tu_exists(tu_path(dir, "bare.txt")));
    assert_int_equal(tu_count_entries(dir), 4);

    assert_int_equal(vbt_file_write_atomic(tu_path(dir, ""), "x", 1, 1, &msg),
                     VBT_EINVAL);

    umask(old_mask);
    tu_rmtree(dir);
    free(dir);
}

/* ---- .npy writing and reading back ------------------------------------ */

static void roundtrip(const char *dir, size_t ndim, const size_t *shape)
{
    size_t n = 1;
    for (size_t d = 0; d < ndim; d++)
        n *= shape[d];
    double *v = malloc((n ? n : 1) * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = entropic(i);

    const char *p = tu_path(dir, "rt.npy");
    vbt_msg msg;
    assert_int_equal(vbt_npy_write(p, v, ndim, shape, 1, &msg), VBT_OK);

    size_t len;
    unsigned char *raw = read_file(p, &len);
    size_t hl = (size_t)raw[8] | (size_t)raw[9] << 8;
    size_t off = 10 + hl;
    assert_int_equal(off % 64, 0);
    assert_int_equal(raw[6], 1);
    assert_int_equal(raw[7], 0);
    assert_int_equal(raw[off - 1], '\n');
    assert_int_equal(len, off + 8 * n);
    free(raw);

    vbt_array a;
    assert_int_equal(vbt_npy_read(p, &a, &msg), VBT_OK);
    assert_int_equal(a.ndim, ndim);
    assert_int_equal(a.size, n);
    for (size_t d = 0; d < ndim; d++)
        assert_int_equal(a.shape[d], shape[d]);
    for (size_t i = 0; i < n; i++)
        assert_close(a.data[i], entropic(i), 0.0);
    vbt_array_clear(&a);
    assert_null(a.data);
    assert_int_equal(a.size, 0);
    free(v);
}

static void test_npy_roundtrip(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    size_t s1[] = {3}, s3[] = {2, 3, 4}, s2[] = {1000, 7}, s0[] = {4, 0};
    roundtrip(dir, 0, NULL);
    roundtrip(dir, 1, s1);
    roundtrip(dir, 3, s3);
    roundtrip(dir, 2, s2);
    roundtrip(dir, 2, s0);
    assert_int_equal(tu_count_entries(dir), 1);
    tu_rmtree(dir);
    free(dir);
}

static void test_npy_exact_bytes(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    const char *p = tu_path(dir, "a.npy");
    double v[6] = {2.385, -0.37, 1e-300, 6.02214076e23, -0.0, 3.0};
    size_t shape[2] = {2, 3};
    vbt_msg msg;

    assert_int_equal(vbt_npy_write(p, v, 2, shape, 0, &msg), VBT_OK);
    unsigned char expect[128 + 48];
    const char *dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
    memcpy(expect, "\x93NUMPY\x01\x00\x76\x00", 10); /* header length 118 */
    memset(expect + 10, ' ', 118);
    memcpy(expect + 10, dict, strlen(dict));
    expect[127] = '\n';
    /* Data: little-endian IEEE doubles, built byte by byte. */
    for (int i = 0; i < 6; i++) {
        uint64_t u;
        memcpy(&u, &v[i], 8);
        for (int b = 0; b < 8; b++)
            expect[128 + 8 * i + b] = (unsigned char)(u >> (8 * b));
    }
    size_t len;
    unsigned char *raw = read_file(p, &len);
    assert_int_equal(len, sizeof expect);
    assert_memory_equal(raw, expect, sizeof expect);
    free(raw);

    /* Refuses to overwrite, with the uniform message. */
    assert_int_equal(vbt_npy_write(p, v, 2, shape, 0, &msg), VBT_EEXIST);
    char want[512];
    snprintf(want, sizeof want, "'%s' exists (use --force to overwrite)", p);
    assert_string_equal(msg.text, want);

    /* 1-d header carries the 1-tuple comma; 0-d an empty tuple. */
    size_t s1 = 5;
    assert_int_equal(vbt_npy_write(p, v, 1, &s1, 1, &msg), VBT_OK);
    raw = read_file(p, &len);
    assert_non_null(strstr((char *)raw + 10, "'shape': (5,), }"));
    free(raw);
    assert_int_equal(vbt_npy_write(p, v, 0, NULL, 1, &msg), VBT_OK);
    raw = read_file(p, &len);
    assert_non_null(strstr((char *)raw + 10, "'shape': (), }"));
    assert_int_equal(len, 128 + 8);
    free(raw);

    assert_int_equal(tu_count_entries(dir), 1);
    tu_rmtree(dir);
    free(dir);
}

/* ---- .npy parsing of hand-made buffers -------------------------------- */

static void test_npy_parse_dtypes(void **state)
{
    (void)state;
    unsigned char buf[512];
    vbt_array a;
    vbt_msg msg;
    size_t n;

    /* float32 little-endian: 2.385f etc. converted exactly to double. */
    float f[3] = {2.385f, -0.37f, 1.5e-7f};
    unsigned char fb[12];
    for (int i = 0; i < 3; i++) {
        uint32_t u;
        memcpy(&u, &f[i], 4);
        for (int b = 0; b < 4; b++)
            fb[4 * i + b] = (unsigned char)(u >> (8 * b));
    }
    n = make_npy(buf, sizeof buf, 1,
                 "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n", fb, 12);
    assert_int_equal(vbt_npy_parse(buf, n, "f4", &a, &msg), VBT_OK);
    assert_int_equal(a.ndim, 1);
    assert_int_equal(a.shape[0], 3);
    for (int i = 0; i < 3; i++)
        assert_close(a.data[i], (double)f[i], 0.0);
    vbt_array_clear(&a);

    /* int16 big-endian, 2x2: 1000, -2, -32768, 32767. */
    const unsigned char i2[] = {0x03, 0xe8, 0xff, 0xfe, 0x80, 0x00, 0x7f, 0xff};
    n = make_npy(buf, sizeof buf, 1,
                 "{'descr': '>i2', 'fortran_order': False, 'shape': (2, 2), }", i2, 8);
    assert_int_equal(vbt_npy_parse(buf, n, "i2", &a, &msg), VBT_OK);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.size, 4);
    assert_close(a.data[0], 1000.0, 0.0);
    assert_close(a.data[1], -2.0, 0.0);
    assert_close(a.data[2], -32768.0, 0.0);
    assert_close(a.data[3], 32767.0, 0.0);
    vbt_array_clear(&a);

    /* float64 big-endian 0-d: -2.385. */
    double d = -2.385;
    uint64_t u;
    memcpy(&u, &d, 8);
    unsigned char f8[8];
    for (int b = 0; b < 8; b++)
        f8[b] = (unsigned char)(u >> (56 - 8 * b));
    n = make_npy(buf, sizeof buf, 1,
                 "{'descr': '>f8', 'fortran_order': False, 'shape': (), }", f8, 8);
    assert_int_equal(vbt_npy_parse(buf, n, "f8", &a, &msg), VBT_OK);
    assert_int_equal(a.ndim, 0);
    assert_int_equal(a.size, 1);
    assert_close(a.data[0], -2.385, 0.0);
    vbt_array_clear(&a);

    /* Integer kinds at their extremes. */
    const unsigned char i1[] = {0x80, 0x7f, 0xff};
    n = make_npy(buf, sizeof buf, 1,
                 "{'descr': '|i1', 'fortran_order': False, 'shape': (3,), }", i1, 3);
    assert_int_equal(vbt_npy_parse(buf, n, "i1", &a, &msg), VBT_OK);
    assert_close(a.data[0], -128.0, 0.0);
    assert_close(a.data[1], 127.0, 0.0);
    assert_close(a.data[2], -1.0, 0.0);
    vbt_array_clear(&a);

    n = make_npy(buf, sizeof buf, 1,
                 "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", i1, 3);
    assert_int_equal(vbt_npy_parse(buf, n, "u1", &a, &msg), VBT_OK);
    assert_close(a.data[0], 128.0, 0.0);
    assert_close(a.data[2], 255.0, 0.0);
    vbt_array_clear(&a);

    const unsigned char i4[] = {0x00, 0x00, 0x00, 0x80, 0x39, 0x30, 0x00, 0x00};
    n = make_npy(buf, sizeof buf, 1,
                 "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", i4, 8);
    assert_int_equal(vbt_npy_parse(buf, n, "i4", &a, &msg), VBT_OK);
    assert_close(a.data[0], -2147483648.0, 0.0);
    assert_close(a.data[1], 12345.0, 0.0);
    vbt_array_clear(&a);

    n = make_npy(buf, sizeof buf, 1,
                 "{'descr': '<u4', 'fortran_order': False, 'shape': (2,), }", i4, 8);
    assert_int_equal(vbt_npy_parse(buf, n, "u4", &a, &msg), VBT_OK);
    assert_close(a.data[0], 2147483648.0, 0.0);
    vbt_array_clear(&a);

    const unsigned char i8[] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80};
    n = make_npy(buf, sizeof buf, 1,
                 "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", i8, 16);
    assert_int_equal(vbt_npy_parse(buf, n, "i8", &a, &msg), VBT_OK);
    assert_close(a.data[0], -2.0, 0.0);
    assert_close(a.data[1], -9223372036854775808.0, 0.0);
    vbt_array_clear(&a);

    n = make_npy(buf, sizeof buf, 1,
                 "{'descr': '<u8', 'fortran_order': False, 'shape': (2,), }", i8, 16);
    assert_int_equal(vbt_npy_parse(buf, n, "u8", &a, &msg), VBT_OK);
    assert_close(a.data[0], 18446744073709551614.0, 0.0);
    assert_close(a.data[1], 9223372036854775808.0, 0.0);
    vbt_array_clear(&a);

    const unsigned char u2[] = {0xff, 0xfe, 0x12, 0x34};
    n = make_npy(buf, sizeof buf, 1,
                 "{'descr': '>u2', 'fortran_order': False, 'shape': (2,), }", u2, 4);
    assert_int_equal(vbt_npy_parse(buf, n, "u2", &a, &msg), VBT_OK);
    assert_close(a.data[0], 65534.0, 0.0);
    assert_close(a.data[1], 4660.0, 0.0);
    vbt_array_clear(&a);
}

static void test_npy_parse_layout(void **state)
{
    (void)state;
    unsigned char buf[512];
    vbt_array a;
    vbt_msg msg;
    size_t n;

    /* 2x3 Fortran order: the file holds columns; C order is rows. */
    double c[6], fo[6];
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < 3; j++) {
            c[i * 3 + j] = entropic(i * 3 + j);
            fo[j * 2 + i] = c[i * 3 + j];
        }
    unsigned char fb[48];
    for (int i = 0; i < 6; i++) {
        uint64_t u;
        memcpy(&u, &fo[i], 8);
        for (int b = 0; b < 8; b++)
            fb[8 * i + b] = (unsigned char)(u >> (8 * b));
    }
    n = make_npy(buf, sizeof buf, 1,
                 "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }\n", fb, 48);
    assert_int_equal(vbt_npy_parse(buf, n, "F", &a, &msg), VBT_OK);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.shape[0], 2);
    assert_int_equal(a.shape[1], 3);
    for (int i = 0; i < 6; i++)
        assert_close(a.data[i], c[i], 0.0);
    vbt_array_clear(&a);

    /* 3-d Fortran order, int16 values equal to their C index. */
    size_t sh[3] = {2, 3, 4};
    unsigned char i2[48];
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < 3; j++)
            for (size_t k = 0; k < 4; k++) {
                size_t cidx = (i * 3 + j) * 4 + k, fidx = i + 2 * (j + 3 * k);
                i2[2 * fidx] = (unsigned char)cidx;
                i2[2 * fidx + 1] = 0;
            }
    n = make_npy(buf, sizeof buf, 1,
                 "{'descr': '<i2', 'fortran_order': True, 'shape': (2, 3, 4), }", i2, 48);
    assert_int_equal(vbt_npy_parse(buf, n, "F3", &a, &msg), VBT_OK);
    assert_int_equal(a.ndim, 3);
    for (int d = 0; d < 3; d++)
        assert_int_equal(a.shape[d], sh[d]);
    for (int i = 0; i < 24; i++)
        assert_close(a.data[i], (double)i, 0.0);
    vbt_array_clear(&a);

    /* Keys in any order, odd spacing, no trailing comma, Python-2 longs,
     * double quotes; version 2.0 and 3.0 length fields. */
    const unsigned char one[8] = {0, 0, 0, 0, 0, 0, 0xf0, 0x3f}; /* 1.0 */
    const char *variants[] = {
        "{ 'shape' : ( 1 , ) ,'fortran_order':False,  'descr':'<f8'}",
        "{\"descr\": \"<f8\", \"shape\": (1L,), \"fortran_order\": True}   \n",
        "{'fortran_order': False, 'shape': (1, 1, 1), 'descr': '<f8', }",
    };
    for (int major = 1; major <= 3; major++)
        for (size_t v = 0; v < 3; v++) {
            n = make_npy(buf, sizeof buf, major, variants[v], one, 8);
            assert_int_equal(vbt_npy_parse(buf, n, "var", &a, &msg), VBT_OK);
            assert_int_equal(a.size, 1);
            assert_close(a.data[0], 1.0, 0.0);
            vbt_array_clear(&a);
        }

    /* Empty arrays: no data, however large the other extents. */
    n = make_npy(buf, sizeof buf, 1,
                 "{'descr': '<f8', 'fortran_order': False, "
                 "'shape': (0, 18446744073709551615), }", NULL, 0);
    assert_int_equal(vbt_npy_parse(buf, n, "empty", &a, &msg), VBT_OK);
    assert_int_equal(a.size, 0);
    assert_int_equal(a.ndim, 2);
    assert_null(a.data);
    vbt_array_clear(&a);

    /* Eight dimensions are allowed. */
    n = make_npy(buf, sizeof buf, 1,
                 "{'descr': '<f8', 'fortran_order': True, "
                 "'shape': (1, 1, 1, 1, 1, 1, 1, 1), }", one, 8);
    assert_int_equal(vbt_npy_parse(buf, n, "8d", &a, &msg), VBT_OK);
    assert_int_equal(a.ndim, 8);
    vbt_array_clear(&a);
}

static void test_npy_parse_errors(void **state)
{
    (void)state;
    unsigned char buf[512];
    size_t n;
    const unsigned char d8[16] = {0};
    const char *good = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";

    /* Sanity: the good one parses. */
    n = make_npy(buf, sizeof buf, 1, good, d8, 16);
    vbt_array a;
    vbt_msg msg;
    assert_int_equal(vbt_npy_parse(buf, n, "x.npy", &a, &msg), VBT_OK);
    vbt_array_clear(&a);

    /* Truncated data and trailing bytes. */
    n = make_npy(buf, sizeof buf, 1, good, d8, 15);
    expect_parse_error(buf, n, VBT_EFORMAT, "truncated data (expected 16 bytes, found 15)");
    n = make_npy(buf, sizeof buf, 1, good, d8, 0);
    expect_parse_error(buf, n, VBT_EFORMAT, "truncated data (expected 16 bytes, found 0)");
    n = make_npy(buf, sizeof buf, 1, good, d8, 16);
    buf[n++] = 0;
    expect_parse_error(buf, n, VBT_EFORMAT, "trailing bytes");

    /* Magic, version, header length. */
    n = make_npy(buf, sizeof buf, 1, good, d8, 16);
    buf[0] = 0x92;
    expect_parse_error(buf, n, VBT_EFORMAT, "not a .npy file (bad magic)");
    expect_parse_error("", 0, VBT_EFORMAT, "bad magic");
    expect_parse_error("\x93NUM", 4, VBT_EFORMAT, "bad magic");
    expect_parse_error("\x93NUMPY", 6, VBT_EFORMAT, "truncated header");
    expect_parse_error("\x93NUMPY\x01\x00\x05", 9, VBT_EFORMAT, "truncated header");
    expect_parse_error("\x93NUMPY\x02\x00\x05\x00\x00", 11, VBT_EFORMAT,
                       "truncated header");
    n = make_npy(buf, sizeof buf, 1, good, d8, 16);
    buf[6] = 4;
    expect_parse_error(buf, n, VBT_EFORMAT, "unsupported .npy version 4.0");
    buf[6] = 1;
    buf[7] = 1;
    expect_parse_error(buf, n, VBT_EFORMAT, "unsupported .npy version 1.1");
    n = make_npy(buf, sizeof buf, 1, good, NULL, 0);
    buf[8] = 0xff;
    buf[9] = 0x7f;
    expect_parse_error(buf, n, VBT_EFORMAT, "beyond end of file");
    n = make_npy(buf, sizeof buf, 3, good, NULL, 0);
    buf[11] = 0xff;
    expect_parse_error(buf, n, VBT_EFORMAT, "beyond end of file");

    /* Header content. */
    n = make_npy(buf, sizeof buf, 1, good, d8, 16);
    buf[12] = 0xe9;
    expect_parse_error(buf, n, VBT_EFORMAT, "non-ASCII");
    buf[12] = 0;
    expect_parse_error(buf, n, VBT_EFORMAT, "non-ASCII");

    static const struct {
        const char *header;
        int code;
        const char *part;
    } bad[] = {
        {"{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", VBT_EFORMAT,
         "unsupported dtype '|O'"},
        {"{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }", VBT_EFORMAT,
         "unsupported dtype '<c16'"},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", VBT_EFORMAT,
         "unsupported dtype '<f2'"},
        {"{'descr': '|f8', 'fortran_order': False, 'shape': (2,), }", VBT_EFORMAT,
         "unsupported dtype '|f8'"},
        {"{'descr': '<U8', 'fortran_order': False, 'shape': (2,), }", VBT_EFORMAT,
         "unsupported dtype '<U8'"},
        {"{'descr': '<f8\n', 'fortran_order': False, 'shape': (2,), }", VBT_EFORMAT,
         "unsupported dtype '<f8?'"},
        {"{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,), }",
         VBT_EFORMAT, "structured"},
        {"{'descr': '<f8', 'fortran_order': False, "
         "'shape': (1, 1, 1, 1, 1, 1, 1, 1, 2), }", VBT_ERANGE, "too many dimensions"},
        {"{'descr': '<f8', 'fortran_order': False, "
         "'shape': (4294967296, 4294967296, 4294967296), }", VBT_ERANGE, "overflow"},
        {"{'descr': '<f8', 'fortran_order': False, "
         "'shape': (2305843009213693952,), }", VBT_ERANGE, "overflow"},
        {"{'descr': '<f8', 'fortran_order': False, "
         "'shape': (99999999999999999999999,), }", VBT_ERANGE, "too large"},
        {"{'descr': '<f8', 'fortran_order': False}", VBT_EFORMAT, "missing 'shape'"},
        {"{'descr': '<f8', 'shape': (2,)}", VBT_EFORMAT, "missing 'fortran_order'"},
        {"{'fortran_order': False, 'shape': (2,)}", VBT_EFORMAT, "missing 'descr'"},
        {"{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
         VBT_EFORMAT, "repeated key 'descr'"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1}",
         VBT_EFORMAT, "key 'x'"},
        {"{'descr': '<f8', 'fortran_order': 0, 'shape': (2,)}", VBT_EFORMAT,
         "'fortran_order'"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, -1)}", VBT_EFORMAT,
         "malformed 'shape'"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,,)}", VBT_EFORMAT,
         "malformed 'shape'"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2 3)}", VBT_EFORMAT,
         "malformed 'shape'"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': [2]}", VBT_EFORMAT,
         "malformed 'shape'"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,", VBT_EFORMAT,
         "malformed 'shape'"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,)} x", VBT_EFORMAT,
         "junk"},
        {"{'descr': '<f8' 'fortran_order': False, 'shape': (2,)}", VBT_EFORMAT,
         "malformed header dict"},
        {"{'descr: '<f8', 'fortran_order': False, 'shape': (2,)}", VBT_EFORMAT,
         "malformed header dict"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,)", VBT_EFORMAT,
         "malformed header dict"},
        {"'descr': '<f8'", VBT_EFORMAT, "expected '{'"},
        {"", VBT_EFORMAT, "expected '{'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = make_npy(buf, sizeof buf, 1, bad[i].header, d8, 16);
        expect_parse_error(buf, n, bad[i].code, bad[i].part);
    }

    /* NULL handling. */
    assert_int_equal(vbt_npy_parse(buf, n, "x", NULL, &msg), VBT_EINVAL);
    assert_int_equal(vbt_npy_parse(NULL, 5, "x", &a, &msg), VBT_EINVAL);
    assert_int_equal(vbt_npy_parse("", 0, NULL, &a, NULL), VBT_EFORMAT);
    vbt_array_clear(NULL);
}

static void test_npy_read_files(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    vbt_array a;
    vbt_msg msg;
    char want[512];

    const char *missing = tu_path(dir, "x.npy");
    assert_int_equal(vbt_npy_read(missing, &a, &msg), VBT_EIO);
    assert_non_null(strstr(msg.text, strerror(ENOENT)));
    assert_null(a.data);

    assert_int_equal(vbt_npy_read(dir, &a, &msg), VBT_EIO);
    assert_non_null(strstr(msg.text, "directory"));

    tu_write_file(missing, "PK\x03\x04 not numpy");
    assert_int_equal(vbt_npy_read(missing, &a, &msg), VBT_EFORMAT);
    snprintf(want, sizeof want, "'%s': not a .npy file (bad magic)", missing);
    assert_string_equal(msg.text, want);

    /* A 600-value array cut to 120 bytes of data. */
    unsigned char buf[256];
    unsigned char zeros[120] = {0};
    size_t n = make_npy(buf, sizeof buf, 1,
                        "{'descr': '<f8', 'fortran_order': False, 'shape': (20, 30), }",
                        zeros, sizeof zeros);
    tu_write_bytes(missing, buf, n);
    assert_int_equal(vbt_npy_read(missing, &a, &msg), VBT_EFORMAT);
    snprintf(want, sizeof want, "'%s': truncated data (expected 4800 bytes, found 120)",
             missing);
    assert_string_equal(msg.text, want);
    assert_null(a.data);

    tu_rmtree(dir);
    free(dir);
}

/* ---- streaming writer ------------------------------------------------- */

static void test_npy_writer(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    const char *ps = tu_path(dir, "stream.npy");
    const char *pw = tu_path(dir, "whole.npy");
    size_t shape[2] = {37, 11};
    double v[37 * 11];
    vbt_npy_writer *w;
    vbt_msg msg;

    for (size_t i = 0; i < 37 * 11; i++)
        v[i] = entropic(i);
    assert_int_equal(vbt_npy_write(pw, v, 2, shape, 0, &msg), VBT_OK);

    /* Uneven chunks give the same bytes as one write. */
    assert_int_equal(vbt_npy_writer_open(&w, ps, 2, shape, 0, &msg), VBT_OK);
    assert_int_equal(tu_count_entries(dir), 2); /* whole.npy + temp */
    assert_false(tu_exists(ps));
    size_t done = 0, step = 1;
    while (done < 37 * 11) {
        size_t k = step < 37 * 11 - done ? step : 37 * 11 - done;
        assert_int_equal(vbt_npy_writer_append(w, v + done, k, &msg), VBT_OK);
        done += k;
        step = step * 3 + 1;
    }
    assert_int_equal(vbt_npy_writer_append(w, v, 0, &msg), VBT_OK);
    assert_int_equal(vbt_npy_writer_append(w, v, 1, &msg), VBT_EINVAL);
    assert_int_equal(vbt_npy_writer_close(w, &msg), VBT_OK);
    assert_int_equal(tu_count_entries(dir), 2);
    size_t l1, l2;
    char *b1 = read_file(ps, &l1), *b2 = read_file(pw, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(b1, b2, l1);
    free(b1);
    free(b2);

    /* Too few values: close fails and leaves nothing. */
    const char *pm = tu_path(dir, "short.npy");
    assert_int_equal(vbt_npy_writer_open(&w, pm, 2, shape, 0, &msg), VBT_OK);
    assert_int_equal(vbt_npy_writer_append(w, v, 100, &msg), VBT_OK);
    assert_int_equal(vbt_npy_writer_close(w, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "100 values written, shape needs 407"));
    assert_false(tu_exists(pm));
    assert_int_equal(tu_count_entries(dir), 2);

    /* Abort leaves nothing; NULL is harmless. */
    assert_int_equal(vbt_npy_writer_open(&w, pm, 2, shape, 0, &msg), VBT_OK);
    assert_int_equal(vbt_npy_writer_append(w, v, 10, &msg), VBT_OK);
    vbt_npy_writer_abort(w);
    vbt_npy_writer_abort(NULL);
    assert_int_equal(vbt_npy_writer_close(NULL, &msg), VBT_EINVAL);
    assert_int_equal(tu_count_entries(dir), 2);

    /* Existing target: refused at open unless overwrite. */
    assert_int_equal(vbt_npy_writer_open(&w, ps, 2, shape, 0, &msg), VBT_EEXIST);
    assert_null(w);
    assert_int_equal(vbt_npy_writer_open(&w, ps, 1, shape, 1, &msg), VBT_OK);
    assert_int_equal(vbt_npy_writer_append(w, v + 5, 37, &msg), VBT_OK);
    assert_int_equal(vbt_npy_writer_close(w, &msg), VBT_OK);
    vbt_array a;
    assert_int_equal(vbt_npy_read(ps, &a, &msg), VBT_OK);
    assert_int_equal(a.ndim, 1);
    assert_int_equal(a.shape[0], 37);
    assert_close(a.data[36], entropic(41), 0.0);
    vbt_array_clear(&a);

    /* Argument errors. */
    size_t big[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    assert_int_equal(vbt_npy_writer_open(&w, pm, 9, big, 0, &msg), VBT_EINVAL);
    size_t huge[3] = {4294967296u, 4294967296u, 4294967296u};
    assert_int_equal(vbt_npy_write(pm, v, 3, huge, 0, &msg), VBT_ERANGE);
    assert_int_equal(vbt_npy_write(pm, NULL, 2, shape, 0, &msg), VBT_EINVAL);
    assert_int_equal(vbt_npy_write(pm, v, 2, NULL, 0, &msg), VBT_EINVAL);
    assert_int_equal(vbt_npy_write(tu_path(dir, "no/dir.npy"), v, 2, shape, 0, &msg),
                     VBT_EIO);
    assert_int_equal(tu_count_entries(dir), 2);

    tu_rmtree(dir);
    free(dir);
}

/* ---- output directories ----------------------------------------------- */

static void test_outdir(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    const char *final = tu_path(dir, "run");
    char fbuf[4096], want[4096];
    vbt_outdir *od;
    vbt_msg msg;
    size_t len;
    char *b;

    /* begin + commit creates the directory with its files; while the handle
     * lives, the staging directory and the lock file sit beside it. */
    assert_int_equal(vbt_outdir_begin(&od, final, 0, &msg), VBT_OK);
    assert_int_equal(tu_count_entries(dir), 2);
    assert_true(tu_exists(tu_path(dir, ".run.lock")));
    assert_false(tu_exists(final));
    const char *stage = vbt_outdir_path(od);
    assert_non_null(strstr(stage, "/.run.tmp-"));
    assert_int_equal(vbt_outdir_file(od, "a.txt", fbuf, sizeof fbuf), VBT_OK);
    snprintf(want, sizeof want, "%s/a.txt", stage);
    assert_string_equal(fbuf, want);
    assert_int_equal(vbt_file_write_atomic(fbuf, "one", 3, 0, &msg), VBT_OK);
    assert_int_equal(vbt_outdir_file(od, "a.txt", fbuf, 5), VBT_ERANGE);
    assert_int_equal(vbt_outdir_commit(od, &msg), VBT_OK);
    assert_int_equal(tu_count_entries(dir), 1);
    assert_int_equal(tu_count_entries(final), 1);
    b = read_file(tu_path(final, "a.txt"), &len);
    assert_string_equal(b, "one");
    free(b);

    /* Existing and no overwrite: EEXIST, nothing touched. */
    assert_int_equal(vbt_outdir_begin(&od, final, 0, &msg), VBT_EEXIST);
    assert_null(od);
    snprintf(want, sizeof want, "'%s' exists (use --force to overwrite)", final);
    assert_string_equal(msg.text, want);
    assert_int_equal(tu_count_entries(dir), 1);
    assert_int_equal(tu_count_entries(final), 1);
    /* Trailing slashes name the same directory. */
    snprintf(want, sizeof want, "%s//", final);
    assert_int_equal(vbt_outdir_begin(&od, want, 0, &msg), VBT_EEXIST);

    /* Overwrite replaces the contents and leaves no .old behind. */
    assert_int_equal(vbt_outdir_begin(&od, final, 1, &msg), VBT_OK);
    assert_int_equal(tu_count_entries(dir), 3);
    assert_int_equal(vbt_outdir_file(od, "b.txt", fbuf, sizeof fbuf), VBT_OK);
    tu_write_file(fbuf, "two");
    assert_int_equal(mkdir(tu_path(final, "nested"), 0755), 0);
    tu_write_file(tu_path(tu_path(final, "nested"), "deep"), "old");
    assert_int_equal(vbt_outdir_commit(od, &msg), VBT_OK);
    assert_int_equal(tu_count_entries(dir), 1);
    assert_int_equal(tu_count_entries(final), 1);
    assert_false(tu_exists(tu_path(final, "a.txt")));
    b = read_file(tu_path(final, "b.txt"), &len);
    assert_string_equal(b, "two");
    free(b);

    /* Abort leaves no trace. */
    assert_int_equal(vbt_outdir_begin(&od, tu_path(dir, "other"), 0, &msg), VBT_OK);
    assert_int_equal(vbt_outdir_file(od, "c.txt", fbuf, sizeof fbuf), VBT_OK);
    tu_write_file(fbuf, "three");
    assert_int_equal(tu_count_entries(dir), 3);
    vbt_outdir_abort(od);
    vbt_outdir_abort(NULL);
    assert_int_equal(tu_count_entries(dir), 1);

    /* Target appearing between begin and commit without overwrite. */
    const char *race = tu_path(dir, "race");
    assert_int_equal(vbt_outdir_begin(&od, race, 0, &msg), VBT_OK);
    assert_int_equal(mkdir(race, 0755), 0);
    assert_int_equal(vbt_outdir_commit(od, &msg), VBT_EEXIST);
    assert_int_equal(tu_count_entries(dir), 2);
    assert_int_equal(rmdir(race), 0);

    /* A file in the way is an error even with overwrite. */
    const char *file = tu_path(dir, "afile");
    tu_write_file(file, "keep");
    assert_int_equal(vbt_outdir_begin(&od, file, 1, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "not a directory"));
    assert_int_equal(tu_count_entries(dir), 2);
    b = read_file(file, &len);
    assert_string_equal(b, "keep");
    free(b);

    /* A parent that cannot be created (a file in the way): clear error. */
    assert_int_equal(vbt_outdir_begin(&od, tu_path(dir, "afile/sub/run"), 0, &msg),
                     VBT_EIO);
    assert_non_null(strstr(msg.text, "parent directory"));
    assert_int_equal(tu_count_entries(dir), 2);
    /* Missing parents are created (mkdir -p), as `-o runs/p1/out` expects. */
    assert_int_equal(vbt_outdir_begin(&od, tu_path(dir, "no/such/run"), 0, &msg), VBT_OK);
    assert_int_equal(vbt_outdir_commit(od, &msg), VBT_OK);
    assert_true(tu_exists(tu_path(dir, "no/such/run")));
    assert_int_equal(tu_count_entries(tu_path(dir, "no/such")), 1);
    assert_int_equal(vbt_outdir_begin(&od, "", 0, &msg), VBT_EINVAL);
    assert_int_equal(vbt_outdir_commit(NULL, &msg), VBT_EINVAL);
    assert_null(vbt_outdir_path(NULL));

    tu_rmtree(dir);
    free(dir);
}

/* ---- locks and leftovers of killed runs -------------------------------- */

/* A child that begins an output directory, reports, then waits to be
 * killed: a run killed with its staging folder in place. */
static pid_t start_holder(const char *final)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        vbt_outdir *od;
        vbt_msg msg;
        close(fds[0]);
        char c = vbt_outdir_begin(&od, final, 0, &msg) == VBT_OK ? 'y' : 'n';
        if (write(fds[1], &c, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(fds[1]);
    char c = 0;
    assert_int_equal(read(fds[0], &c, 1), 1);
    close(fds[0]);
    assert_int_equal(c, 'y');
    return pid;
}

static int count_prefix(const char *dir, const char *prefix)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d)
        closedir(d);
    return n;
}

static void test_outdir_lock(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char final[4096], want[128];
    snprintf(final, sizeof final, "%s/run", dir);
    vbt_outdir *od, *od2;
    vbt_msg msg;

    /* Another process holds the folder: refused, naming it. */
    pid_t pid = start_holder(final);
    assert_int_equal(count_prefix(dir, ".run.tmp-"), 1);
    assert_int_equal(vbt_outdir_begin(&od, final, 1, &msg), VBT_EIO);
    assert_null(od);
    snprintf(want, sizeof want, "in use by another vbt run (process %ld holds", (long)pid);
    assert_non_null(strstr(msg.text, want));
    assert_int_equal(count_prefix(dir, ".run.tmp-"), 1);

    /* Killed: its lock is taken over and its staging folder removed. */
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    assert_int_equal(count_prefix(dir, ".run.tmp-"), 1);
    assert_int_equal(vbt_outdir_begin(&od, final, 0, &msg), VBT_OK);
    assert_int_equal(count_prefix(dir, ".run.tmp-"), 1); /* only ours */

    /* A second handle in this process is refused too (flock locks belong
     * to the open file). */
    assert_int_equal(vbt_outdir_begin(&od2, final, 0, &msg), VBT_EIO);
    vbt_outdir_abort(od);

    /* Killed and not yet reaped (a zombie still has its pid): its lock is
     * gone once it has exited, and its staging folder is swept all the
     * same. */
    pid = start_holder(final);
    assert_int_equal(kill(pid, SIGKILL), 0);
    while (vbt_outdir_begin(&od, final, 0, &msg) == VBT_EIO)
        sched_yield();
    assert_non_null(od);
    assert_int_equal(count_prefix(dir, ".run.tmp-"), 1);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    assert_int_equal(vbt_outdir_commit(od, &msg), VBT_OK);
    assert_int_equal(tu_count_entries(dir), 1); /* run; no lock, no staging */

    /* A staging folder of a live process other than a vbt run (our parent
     * is alive) is left alone; one of ours is never swept by ourselves. */
    snprintf(want, sizeof want, ".x.tmp-%ld-abcdef", (long)getppid());
    assert_int_equal(mkdir(tu_path(dir, want), 0755), 0);
    assert_int_equal(vbt_outdir_begin(&od, tu_path(dir, "x"), 0, &msg), VBT_OK);
    assert_true(tu_exists(tu_path(dir, want)));
    vbt_outdir_abort(od);

    /* The lock API itself. */
    vbt_dirlock *lk, *lk2;
    assert_int_equal(vbt_dirlock_acquire(&lk, tu_path(dir, "y/"), &msg), VBT_OK);
    assert_true(tu_exists(tu_path(dir, ".y.lock")));
    assert_int_equal(vbt_dirlock_acquire(&lk2, tu_path(dir, "y"), &msg), VBT_EIO);
    assert_null(lk2);
    vbt_dirlock_release(lk);
    vbt_dirlock_release(NULL);
    assert_false(tu_exists(tu_path(dir, ".y.lock")));
    assert_int_equal(vbt_dirlock_acquire(&lk, "", &msg), VBT_EINVAL);

    tu_rmtree(dir);
    free(dir);
}

/* ---- the input budget against small hostile files ---------------------- */

/* Compress len bytes of `fill` with libarchive's `filter` (raw format) into
 * a file; returns the compressed size. */
static size_t write_compressed(const char *path, int filter, size_t len)
{
    struct archive *a = archive_write_new();
    assert_int_equal(archive_write_add_filter(a, filter), ARCHIVE_OK);
    assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "x");
    archive_entry_set_filetype(e, AE_IFREG);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    static char zeros[1 << 16];
    for (size_t done = 0; done < len;) {
        size_t n = len - done < sizeof zeros ? len - done : sizeof zeros;
        assert_int_equal(archive_write_data(a, zeros, n), (la_ssize_t)n);
        done += n;
    }
    archive_entry_free(e);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (size_t)st.st_size;
}

/* A zip whose members are `len` zero bytes (deflated), the size declared in
 * the header or not; or one stored member holding `raw` (a bzip2 stream). */
static void write_zip(const char *path, const char *const *names, size_t n, size_t len,
                      int declare, const char *raw, size_t rawlen)
{
    struct archive *a = archive_write_new();
    assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
    archive_write_set_options(a, raw ? "zip:compression=store"
                                     : "zip:compression=deflate");
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    static char zeros[1 << 16];
    for (size_t k = 0; k < n; k++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[k]);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        size_t total = raw ? rawlen : len;
        if (declare || raw)
            archive_entry_set_size(e, (la_int64_t)total);
        else
            archive_entry_unset_size(e);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        for (size_t done = 0; done < total;) {
            size_t m = total - done < sizeof zeros ? total - done : sizeof zeros;
            la_ssize_t w = archive_write_data(a, raw ? raw + done : zeros, m);
            assert_int_equal(w, (la_ssize_t)m);
            done += m;
        }
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

/* Peak resident size allowed beyond the budget (kB): the process itself.
 * AddressSanitizer's shadow memory and quarantine of freed blocks make the
 * RSS of a sanitized build meaningless here, so there the bound is off. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_OK(kb, budget_kb) ((void)(kb), (void)(budget_kb), 1)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_OK(kb, budget_kb) ((void)(kb), (void)(budget_kb), 1)
#endif
#endif
#ifndef RSS_OK
#define RSS_OK(kb, budget_kb) ((kb) < (budget_kb) + 96L * 1024)
#endif

/* Load `path` in a child with VBT_MAX_INPUT_BYTES=budget: the child exits 0
 * when the load was refused with VBT_ERANGE and a message naming the file
 * and the budget (a parcellation volume when labels is given); *maxrss_kb gets the child's peak resident size. */
static int load_in_child(const char *path, const char *budget, const char *labels,
                         long *maxrss_kb)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        vbt_msg msg;
        int rc;
        if (budget)
            setenv("VBT_MAX_INPUT_BYTES", budget, 1);
        else
            unsetenv("VBT_MAX_INPUT_BYTES");
        if (labels) {
            vbt_parcellation *p = NULL;
            rc = vbt_parcellation_load(&p, path, labels, &msg);
            vbt_parcellation_free(p);
        } else {
            vbt_connectome *c = NULL;
            rc = vbt_connectome_load(&c, path, &msg);
            vbt_connectome_free(c);
        }
        if (rc != VBT_ERANGE || !strstr(msg.text, path) ||
            !strstr(msg.text, "input budget")) {
            fprintf(stderr, "rc %d: %s\n", rc, msg.text);
            _exit(1);
        }
        _exit(0);
    }
    int status;
    struct rusage ru;
    assert_int_equal(wait4(pid, &status, 0, &ru), pid);
    *maxrss_kb = ru.ru_maxrss;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

static void test_input_budget(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char zip[4096], nii[4096], bz[4096];
    long rss;
    static const char *const four[] = {"c/weights.txt", "c/tract_lengths.txt",
                                       "c/centres.txt", "c/areas.txt"};

    /* The parser of the budget. */
    unsetenv("VBT_MAX_INPUT_BYTES");
    assert_int_equal(vbt_input_budget_bytes(), VBT_INPUT_BUDGET_DEFAULT);
    setenv("VBT_MAX_INPUT_BYTES", "24M", 1);
    assert_int_equal(vbt_input_budget_bytes(), (size_t)24 << 20);
    setenv("VBT_MAX_INPUT_BYTES", "3000", 1);
    assert_int_equal(vbt_input_budget_bytes(), 3000);
    setenv("VBT_MAX_INPUT_BYTES", "lots", 1);
    assert_int_equal(vbt_input_budget_bytes(), VBT_INPUT_BUDGET_DEFAULT);
    unsetenv("VBT_MAX_INPUT_BYTES");

    /* Members declaring their sizes: refused before they are decompressed
     * once what they declare passes the budget; the zip is a few hundred kB
     * (under 10 MB). */
    snprintf(zip, sizeof zip, "%s/declared.zip", dir);
    write_zip(zip, four, 4, (size_t)100 << 20, 1, NULL, 0);
    struct stat st;
    assert_int_equal(stat(zip, &st), 0);
    assert_true(st.st_size < 10 << 20);
    assert_int_equal(load_in_child(zip, "256M", NULL, &rss), 0);
    /* Peak: at most the budget plus the process itself (a generous 96 MB);
     * the reader without a budget held all 400 MiB, then parsed them. */
    assert_true(RSS_OK(rss, 256L * 1024));

    /* The same, sizes not declared (streamed members), small budget. */
    snprintf(zip, sizeof zip, "%s/streamed.zip", dir);
    write_zip(zip, four, 4, (size_t)40 << 20, 0, NULL, 0);
    assert_int_equal(load_in_child(zip, "64M", NULL, &rss), 0);
    assert_true(RSS_OK(rss, 64L * 1024));

    /* A bzip2 member of 160 MiB of zeros (a few hundred bytes). */
    snprintf(bz, sizeof bz, "%s/w.bz2", dir);
    size_t bzlen = write_compressed(bz, ARCHIVE_FILTER_BZIP2, (size_t)160 << 20);
    size_t len;
    char *raw = tu_slurp(bz, &len);
    assert_int_equal(len, bzlen);
    static const char *const one[] = {"c/weights.txt.bz2"};
    snprintf(zip, sizeof zip, "%s/bzip.zip", dir);
    write_zip(zip, one, 1, 0, 1, raw, len);
    free(raw);
    assert_int_equal(load_in_child(zip, "64M", NULL, &rss), 0);
    assert_true(RSS_OK(rss, 64L * 1024));

    /* A .nii.gz declaring 1024^3 uint8 voxels: refused from its header. */
    unsigned char h[352];
    memset(h, 0, sizeof h);
    int32_t i32 = 348;
    memcpy(h, &i32, 4);
    int16_t dim[8] = {3, 1024, 1024, 1024, 1, 1, 1, 1};
    memcpy(h + 40, dim, sizeof dim);
    int16_t dt = 2, bp = 8; /* DT_UINT8 */
    memcpy(h + 70, &dt, 2);
    memcpy(h + 72, &bp, 2);
    float pix[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    memcpy(h + 76, pix, sizeof pix);
    float off = 352;
    memcpy(h + 108, &off, 4);
    memcpy(h + 344, "n+1", 4);
    snprintf(nii, sizeof nii, "%s/big.nii", dir);
    tu_write_bytes(nii, h, sizeof h);
    struct archive *a = archive_write_new();
    archive_write_add_filter_gzip(a);
    archive_write_set_format_raw(a);
    snprintf(nii, sizeof nii, "%s/big.nii.gz", dir);
    assert_int_equal(archive_write_open_filename(a, nii), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "big.nii");
    archive_entry_set_filetype(e, AE_IFREG);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    assert_int_equal(archive_write_data(a, h, sizeof h), (la_ssize_t)sizeof h);
    static char zeros[1 << 16];
    for (int k = 0; k < 16; k++) /* 1 MiB of voxels, then the stream ends */
        archive_write_data(a, zeros, sizeof zeros);
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    char labels[4096];
    snprintf(labels, sizeof labels, "%s/patient/parcellation_labels.csv", tu_samples_dir());
    assert_int_equal(load_in_child(nii, NULL, labels, &rss), 0);
    assert_true(RSS_OK(rss, 100L * 1024));

    tu_rmtree(dir);
    free(dir);
}

/* Symbolic links and names leading out of an archive. */
static void test_archive_links(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char zip[4096], cdir[4096];
    vbt_connectome *c = NULL;
    vbt_msg msg;

    static const char *const up[] = {"../weights.txt"};
    snprintf(zip, sizeof zip, "%s/up.zip", dir);
    write_zip(zip, up, 1, 10, 1, NULL, 0);
    assert_int_equal(vbt_connectome_load(&c, zip, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "leads out of the archive"));
    static const char *const abs[] = {"/tmp/weights.txt"};
    snprintf(zip, sizeof zip, "%s/abs.zip", dir);
    write_zip(zip, abs, 1, 10, 1, NULL, 0);
    assert_int_equal(vbt_connectome_load(&c, zip, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "absolute path"));

    /* A symlink member named like a wanted file. */
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    snprintf(zip, sizeof zip, "%s/link.zip", dir);
    assert_int_equal(archive_write_open_filename(a, zip), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "weights.txt");
    archive_entry_set_filetype(e, AE_IFLNK);
    archive_entry_set_perm(e, 0777);
    archive_entry_set_symlink(e, "/etc/passwd");
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    assert_int_equal(vbt_connectome_load(&c, zip, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "symbolic link"));

    /* A folder whose weights.txt links elsewhere; the target's bytes never
     * appear in the message. */
    snprintf(cdir, sizeof cdir, "%s/conn", dir);
    assert_int_equal(mkdir(cdir, 0755), 0);
    tu_write_file(tu_path(dir, "secret.txt"), "SECRET-CONTENT 1 2 3\n");
    assert_int_equal(symlink(tu_path(dir, "secret.txt"), tu_path(cdir, "weights.txt")), 0);
    assert_int_equal(vbt_connectome_load(&c, cdir, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "symbolic link"));
    assert_null(strstr(msg.text, "SECRET"));
    assert_int_equal(unlink(tu_path(cdir, "weights.txt")), 0);
    tu_write_file(tu_path(cdir, "weights.txt"), "SECRET-CONTENT 1\n2 3\n");
    assert_int_not_equal(vbt_connectome_load(&c, cdir, &msg), VBT_OK);
    assert_null(strstr(msg.text, "SECRET"));
    assert_null(c);

    /* An existing output that is a link is not replaced through it. */
    tu_write_file(tu_path(dir, "target"), "keep");
    assert_int_equal(symlink(tu_path(dir, "target"), tu_path(dir, "out.txt")), 0);
    assert_int_equal(vbt_file_write_atomic(tu_path(dir, "out.txt"), "x", 1, 1, &msg),
                     VBT_EIO);
    assert_non_null(strstr(msg.text, "symbolic link"));

    tu_rmtree(dir);
    free(dir);
}

/* UTF-8: valid text, and each kind of malformed sequence with the offset
 * of its first byte. */
static void test_utf8_valid(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int ok;
        size_t bad;
    } cases[] = {
        {"", 1, 0},
        {"Hippocampus-L", 1, 13},
        {"Am\xc3\xadgdala \xe2\x82\xac \xf0\x9f\xa7\xa0", 1, 18},
        {"Am\xedgdala", 0, 2},             /* Latin-1 */
        {"ab\xc3", 0, 2},                  /* truncated */
        {"\xc0\xaf", 0, 0},                /* overlong '/' */
        {"x\xe0\x80\xaf", 0, 1},           /* overlong, 3 bytes */
        {"\xed\xa0\x80", 0, 0},            /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 0, 0},        /* above U+10FFFF */
        {"\xf5\x80\x80\x80", 0, 0},
        {"ok\xe2\x82", 0, 2},              /* truncated, 3 bytes */
        {"\x80", 0, 0},                    /* stray continuation */
        {"\xe2\x28\xa1", 0, 0},            /* bad continuation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t bad = 999;
        int ok = vbt_utf8_valid(cases[i].s, strlen(cases[i].s), &bad);
        if (ok != cases[i].ok || bad != cases[i].bad)
            fail_msg("case %zu: valid %d at %zu, expected %d at %zu", i, ok, bad, cases[i].ok,
                     cases[i].bad);
    }
    assert_int_equal(vbt_utf8_valid("a\0b", 3, NULL), 1); /* NUL is ASCII */
}

/* RFC 4180: quotes, doubled quotes, separators and line breaks inside
 * quotes, CRLF, CR, empty fields and lines, no final line break. */
static void test_csv_record(void **state)
{
    (void)state;
    char text[] = "region,label,p\r\n"
                  "0,\"Amygdala, left\",0.25\r\n"
                  "1,\"say \"\"hi\"\"\",\n"
                  "\n"
                  "2,\"two\nlines\",x\r"
                  "\"\",,\"\"\"\"\n"
                  "a\tb,c\n"
                  "last,\"unterminated";
    static const char *const want[][4] = {
        {"region", "label", "p", NULL}, {"0", "Amygdala, left", "0.25", NULL},
        {"1", "say \"hi\"", "", NULL},  {"", NULL},
        {"2", "two\nlines", "x", NULL},  {"", "", "\"", NULL},
        {"a\tb", "c", NULL},             {"last", "unterminated", NULL},
    };
    char *pos = text, *f[4];
    for (size_t r = 0; r < sizeof want / sizeof want[0]; r++) {
        size_t n = vbt_csv_record(&pos, ',', f, 4), k = 0;
        while (want[r][k])
            k++;
        if (n != k)
            fail_msg("record %zu: %zu fields, expected %zu", r, n, k);
        for (size_t i = 0; i < k; i++)
            assert_string_equal(f[i], want[r][i]);
    }
    assert_int_equal(vbt_csv_record(&pos, ',', f, 4), 0);
    assert_int_equal(vbt_csv_record(&pos, ',', f, 4), 0);

    /* more fields than room: the first max kept, the record consumed */
    char wide[] = "a,b,c,d,e,f\nnext\n";
    pos = wide;
    assert_int_equal(vbt_csv_record(&pos, ',', f, 2), 2);
    assert_string_equal(f[0], "a");
    assert_string_equal(f[1], "b");
    assert_int_equal(vbt_csv_record(&pos, ',', f, 2), 1);
    assert_string_equal(f[0], "next");

    /* tabs (BIDS TSV) */
    char tsv[] = "name\tx\r\nA1\t\"1,5\"\r\n";
    pos = tsv;
    assert_int_equal(vbt_csv_record(&pos, '\t', f, 4), 2);
    assert_int_equal(vbt_csv_record(&pos, '\t', f, 4), 2);
    assert_string_equal(f[1], "1,5");
    assert_int_equal(vbt_csv_record(&pos, '\t', f, 4), 0);
}

/* The growing text buffer: appends (across the first 4096-byte block),
 * CSV labels that vbt_csv_record reads back unchanged, atomic writes that
 * free the buffer, and the sticky out-of-memory flag. */
static void test_textbuf(void **state)
{
    (void)state;
    vbt_textbuf b = {0};
    vbt_textbuf_printf(&b, "%s=%d,", "n", 42);
    vbt_textbuf_printf(&b, "%.3f", 0.125); /* exact in binary */
    assert_string_equal(b.s, "n=42,0.125");
    assert_int_equal(b.len, 10);

    /* 1200 records of 5 bytes: 6010 bytes, past the first 4096 block */
    for (int i = 0; i < 1200; i++)
        vbt_textbuf_printf(&b, "%04d;", i);
    assert_int_equal(b.len, 10 + 1200 * 5);
    assert_int_equal(strlen(b.s), b.len);
    assert_true(b.cap > b.len);
    assert_memory_equal(b.s + 10 + 5 * 1199, "1199;", 5);
    assert_memory_equal(b.s + 10 + 5 * 817, "0817;", 5); /* bytes 4095..4099: across 4096 */
    vbt_textbuf_free(&b);
    assert_null(b.s);
    assert_int_equal(b.len + b.cap + (size_t)b.oom, 0);
    vbt_textbuf_free(NULL);

    /* labels: RFC 4180 quoting by hand, and read back by vbt_csv_record */
    static const char *const labels[] = {"plain", "say \"hi\"", "", "a,b", "two\nlines", "\""};
    const size_t nl = sizeof labels / sizeof labels[0];
    vbt_textbuf_label(&b, "say \"hi\"");
    assert_string_equal(b.s, "\"say \"\"hi\"\"\"");
    vbt_textbuf_free(&b);
    for (size_t i = 0; i < nl; i++) {
        vbt_textbuf_label(&b, labels[i]);
        vbt_textbuf_printf(&b, i + 1 < nl ? "," : "\n");
    }
    char *pos = b.s, *f[8];
    assert_int_equal(vbt_csv_record(&pos, ',', f, 8), nl);
    for (size_t i = 0; i < nl; i++)
        assert_string_equal(f[i], labels[i]);
    vbt_textbuf_free(&b);

    /* writes */
    char *dir = tu_mkdtemp();
    char path[4200], bad[4300];
    tu_fmt(path, sizeof path, "%s/t.csv", dir);
    vbt_msg msg = {{0}};
    vbt_textbuf_printf(&b, "a,b\n1,2\n");
    assert_int_equal(vbt_textbuf_write(&b, path, 0, &msg), VBT_OK);
    assert_null(b.s);
    assert_int_equal(b.len, 0);
    size_t len = 0;
    char *got = tu_slurp(path, &len);
    assert_non_null(got);
    assert_int_equal(len, 8);
    assert_memory_equal(got, "a,b\n1,2\n", 8);
    free(got);

    vbt_textbuf_printf(&b, "other\n"); /* refused: exists, overwrite 0 */
    assert_int_equal(vbt_textbuf_write(&b, path, 0, &msg), VBT_EEXIST);
    assert_null(b.s);
    got = tu_slurp(path, &len);
    assert_non_null(got);
    assert_int_equal(len, 8);
    free(got);

    vbt_textbuf_printf(&b, "other\n"); /* replaced with overwrite 1 */
    assert_int_equal(vbt_textbuf_write(&b, path, 1, &msg), VBT_OK);
    got = tu_slurp(path, &len);
    assert_non_null(got);
    assert_int_equal(len, 6);
    assert_memory_equal(got, "other\n", 6);
    free(got);

    assert_int_equal(vbt_textbuf_write(&b, path, 1, &msg), VBT_OK); /* {0}: an empty file */
    got = tu_slurp(path, &len);
    assert_non_null(got);
    assert_int_equal(len, 0);
    free(got);

    /* out of memory is sticky and nothing is written */
    tu_fmt(bad, sizeof bad, "%s/oom.csv", dir);
    vbt_textbuf_printf(&b, "kept");
    b.oom = 1;
    vbt_textbuf_printf(&b, "dropped");
    vbt_textbuf_label(&b, "dropped");
    assert_int_equal(b.len, 4);
    assert_int_equal(vbt_textbuf_write(&b, bad, 1, &msg), VBT_ENOMEM);
    assert_non_null(strstr(msg.text, "out of memory writing"));
    assert_null(b.s);
    assert_int_equal(b.oom, 0);
    assert_false(tu_exists(bad));

    /* an unwritable path: VBT_EIO, the buffer freed all the same */
    tu_fmt(bad, sizeof bad, "%s/missing/t.csv", dir);
    vbt_textbuf_printf(&b, "x\n");
    assert_int_equal(vbt_textbuf_write(&b, bad, 1, &msg), VBT_EIO);
    assert_null(b.s);
    assert_int_equal(tu_count_entries(dir), 1); /* t.csv alone: no temporary left */
    vbt_textbuf_printf(&b, "x\n");
    assert_int_equal(vbt_textbuf_write(&b, NULL, 1, &msg), VBT_EINVAL);
    assert_null(b.s);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_buffer),
        cmocka_unit_test(test_sha256_file),
        cmocka_unit_test(test_read_all),
        cmocka_unit_test(test_write_atomic),
        cmocka_unit_test(test_npy_roundtrip),
        cmocka_unit_test(test_npy_exact_bytes),
        cmocka_unit_test(test_npy_parse_dtypes),
        cmocka_unit_test(test_npy_parse_layout),
        cmocka_unit_test(test_npy_parse_errors),
        cmocka_unit_test(test_npy_read_files),
        cmocka_unit_test(test_npy_writer),
        cmocka_unit_test(test_outdir),
        cmocka_unit_test(test_outdir_lock),
        cmocka_unit_test(test_input_budget),
        cmocka_unit_test(test_archive_links),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_csv_record),
        cmocka_unit_test(test_textbuf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
