/*
 * `run --fetch`: builds the fetcher options of fetch.h from the
 * recon.wechat.* / recon.alipay.* keys (keys loaded from their files for the
 * call, freed after) and downloads one day's bill. The bytes are handed to
 * the run as they were downloaded, so the statement digest is that of the
 * channel's file, as for `--statement`.
 */
#include "fetch.h"
#include "recon_run.h"

#include <paystream/limits.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* A PEM file named by a string key (certificates are not secrets). */
static ps_err_t read_pem(const char *path, uint8_t *buf, size_t size, size_t *len,
                         char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "rb");

    if (f == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "could not open \"%s\": %s", path,
                             strerror(errno));
    *len = fread(buf, 1, size, f);
    bool too_large = *len == size;
    fclose(f);
    if (too_large)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "\"%s\" exceeds %zu bytes", path, size - 1);
    buf[*len] = '\0';
    return PS_OK;
}

static ps_err_t load_key(const ps_config_t *cfg, const char *key, bool private_key,
                         EVP_PKEY **out, char *errstr, size_t errstr_size)
{
    static uint8_t pem[PS_WECHAT_CERT_FILE_BYTES_MAX + 1];
    size_t len = 0;
    const uint8_t *data = NULL;
    ps_err_t err = PS_OK;

    if (private_key) {
        data = ps_config_get_secret(cfg, key, &len);
    } else if (ps_config_get_str(cfg, key)[0] != '\0') {
        err = read_pem(ps_config_get_str(cfg, key), pem, sizeof(pem), &len, errstr,
                       errstr_size);
        data = pem;
    }
    if (err == PS_OK && data == NULL)
        return private_key ? ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                                           "%s is not set: bills cannot be fetched", key)
                           : PS_OK; /* optional public key */
    if (err == PS_OK)
        err = private_key ? recon_fetch_load_private_key(data, len, out, errstr, errstr_size)
                          : recon_fetch_load_public_key(data, len, out, errstr, errstr_size);
    if (err != PS_OK)
        ps_errstr_prefix(errstr, errstr_size, err, "%s", key);
    return err;
}

static ps_err_t fetch_wechat(const ps_config_t *cfg, const char *bill_date, ps_buf_t *out,
                             char *errstr, size_t errstr_size)
{
    recon_wechat_fetch_t f = {
        .base_url = ps_config_get_str(cfg, "recon.wechat.api_base_url"),
        .mch_id = ps_config_get_str(cfg, "recon.wechat.mch_id"),
        .merchant_serial = ps_config_get_str(cfg, "recon.wechat.merchant_serial"),
        .gzip = ps_config_get_bool(cfg, "recon.wechat.gzip"),
        .timeout_ms = ps_config_get_int(cfg, "recon.fetch.timeout_ms"),
        .bytes_max = (size_t)ps_config_get_int(cfg, "recon.statement.bytes_max")};
    ps_err_t err = PS_OK;

    if (f.mch_id[0] == '\0')
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "recon.wechat.mch_id is not set: wechat bills cannot be fetched");
    err = load_key(cfg, "recon.wechat.merchant_key_file", true, &f.merchant_key, errstr,
                   errstr_size);
    if (err == PS_OK)
        err = load_key(cfg, "recon.wechat.platform_cert_file", false, &f.platform_key, errstr,
                       errstr_size);
    if (err == PS_OK)
        err = recon_fetch_wechat_bill(&f, bill_date, out, errstr, errstr_size);
    EVP_PKEY_free(f.merchant_key);
    EVP_PKEY_free(f.platform_key);
    return err;
}

static ps_err_t fetch_alipay(const ps_config_t *cfg, const char *bill_date, ps_buf_t *out,
                             char *errstr, size_t errstr_size)
{
    recon_alipay_fetch_t f = {
        .gateway_url = ps_config_get_str(cfg, "recon.alipay.gateway_url"),
        .app_id = ps_config_get_str(cfg, "recon.alipay.app_id"),
        .timeout_ms = ps_config_get_int(cfg, "recon.fetch.timeout_ms"),
        .bytes_max = (size_t)ps_config_get_int(cfg, "recon.statement.bytes_max")};
    ps_err_t err = PS_OK;

    if (f.app_id[0] == '\0')
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "recon.alipay.app_id is not set: alipay bills cannot be fetched");
    err = load_key(cfg, "recon.alipay.app_private_key_file", true, &f.app_key, errstr,
                   errstr_size);
    if (err == PS_OK)
        err = load_key(cfg, "recon.alipay.public_key_file", false, &f.alipay_key, errstr,
                       errstr_size);
    if (err == PS_OK && f.alipay_key == NULL)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                            "recon.alipay.public_key_file is not set: the bill query answer "
                            "cannot be verified");
    if (err == PS_OK)
        err = recon_fetch_alipay_bill(&f, bill_date, out, errstr, errstr_size);
    EVP_PKEY_free(f.app_key);
    EVP_PKEY_free(f.alipay_key);
    return err;
}

ps_err_t recon_fetch_for_run(const ps_config_t *cfg, ps_channel_t channel, const char *bill_date,
                             ps_buf_t *out, char *errstr, size_t errstr_size)
{
    ps_err_t err;

    if (channel == PS_CHANNEL_WECHAT)
        err = fetch_wechat(cfg, bill_date, out, errstr, errstr_size);
    else if (channel == PS_CHANNEL_ALIPAY)
        err = fetch_alipay(cfg, bill_date, out, errstr, errstr_size);
    else
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_UNSUPPORTED,
                            "channel \"%s\" has no bill to fetch", ps_channel_name(channel));
    if (err != PS_OK)
        ps_errstr_prefix(errstr, errstr_size, err, "could not fetch the %s bill of %s",
                         ps_channel_name(channel), bill_date);
    return err;
}
