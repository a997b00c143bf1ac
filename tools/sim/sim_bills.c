/*
 * Statement generators (see sim_bills.h): each row becomes one line built in
 * a fixed local buffer with hand-written integer formatting, because the
 * benchmark needs a 1,000,000-row WeChat bill in well under a second, and
 * printf per field would dominate. Layouts follow reference/channels.md and
 * the conformance bills B1: WeChat ALL bill with backticks and CRLF, Alipay
 * GBK CSV with trailing-TAB ids inside a zip whose entry name is GBK.
 */
#include "sim_bills.h"

#include <errno.h>
#include <iconv.h>
#include <paystream/assert.h>
#include <paystream/mem.h>
#include <paystream/timeparse.h>
#include <stdio.h>
#include <string.h>
#include <zip.h>
#include <zlib.h>

#define US_PER_S 1000000LL
#define SHANGHAI_OFFSET_S (8 * 3600)
#define LINE_BYTES_MAX 2048 /* a generated line; rows hold at most 3 ids of 64 bytes */

typedef struct line {
    char buf[LINE_BYTES_MAX];
    size_t n;
} line_t;

static void put(line_t *l, const char *s)
{
    size_t k = strlen(s);
    PS_ASSERT(l->n + k < sizeof(l->buf));
    memcpy(l->buf + l->n, s, k);
    l->n += k;
}

static void put_u64(line_t *l, uint64_t v, int width)
{
    char tmp[48]; /* 20 digits of a uint64, or width zero-padded digits */
    int n = 0;
    PS_ASSERT(width < 40);
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0 || n < width);
    PS_ASSERT(l->n + (size_t)n < sizeof(l->buf));
    while (n > 0)
        l->buf[l->n++] = tmp[--n];
}

/* Fen as yuan with two decimals; negative with a '-' (never "-0.00"). */
static void put_money(line_t *l, int64_t minor)
{
    if (minor < 0) {
        put(l, "-");
        minor = -minor;
    }
    put_u64(l, (uint64_t)(minor / 100), 1);
    put(l, ".");
    put_u64(l, (uint64_t)(minor % 100), 2);
}

/* Days since 1970-01-01 -> civil date (H. Hinnant's algorithm). */
static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* Shanghai civil time of us: "YYYY-MM-DD HH:MM:SS" (sep ' ') or with 'T'. */
static void put_time(line_t *l, int64_t us, char sep)
{
    int64_t s = us / US_PER_S + SHANGHAI_OFFSET_S;
    int y, m, d;
    civil_from_days(s / 86400, &y, &m, &d);
    int64_t sod = s % 86400;
    put_u64(l, (uint64_t)y, 4);
    put(l, "-");
    put_u64(l, (uint64_t)m, 2);
    put(l, "-");
    put_u64(l, (uint64_t)d, 2);
    l->buf[l->n++] = sep;
    put_u64(l, (uint64_t)(sod / 3600), 2);
    put(l, ":");
    put_u64(l, (uint64_t)(sod / 60 % 60), 2);
    put(l, ":");
    put_u64(l, (uint64_t)(sod % 60), 2);
}

/* "2023年11月15日 00:00:00" for the Alipay preamble. */
static void put_cn_date(line_t *l, int64_t us, const char *clock)
{
    int y, m, d;
    civil_from_days((us / US_PER_S + SHANGHAI_OFFSET_S) / 86400, &y, &m, &d);
    put_u64(l, (uint64_t)y, 4);
    put(l, "年");
    put_u64(l, (uint64_t)m, 2);
    put(l, "月");
    put_u64(l, (uint64_t)d, 2);
    put(l, "日 ");
    put(l, clock);
}

static ps_err_t flush(line_t *l, ps_buf_t *out, const char *eol)
{
    put(l, eol);
    ps_err_t err = ps_buf_append(out, l->buf, l->n);
    l->n = 0;
    return err;
}

static ps_err_t day_start(const char *date, int64_t *start_us)
{
    char text[32];
    if (date == NULL || strlen(date) != 10)
        return PS_ERR_INVALID;
    snprintf(text, sizeof(text), "%s 00:00:00", date);
    return ps_time_parse_local(text, 19, 480, start_us, NULL, 0);
}

void sim_bills_synth_row(void *opaque, size_t index, sim_bill_row_t *row)
{
    const sim_bill_synth_t *s = opaque;
    size_t pay = index;
    line_t l = {.n = 0};

    row->refund = s->refund_every > 0 && index % s->refund_every == s->refund_every - 1 &&
                  index > 0;
    if (row->refund)
        pay = index - 1; /* refund the payment just before */
    put(&l, s->prefix != NULL ? s->prefix : "P");
    put_u64(&l, pay, 10);
    memcpy(row->merchant_order_no, l.buf, l.n);
    row->merchant_order_no[l.n] = '\0';
    l.n = 0;
    put(&l, "42");
    put_u64(&l, pay, 26);
    memcpy(row->channel_txn_id, l.buf, l.n);
    row->channel_txn_id[l.n] = '\0';
    if (row->refund) {
        l.n = 0;
        put(&l, "50");
        put_u64(&l, index, 27);
        memcpy(row->refund_id, l.buf, l.n);
        row->refund_id[l.n] = '\0';
    }
    row->amount_minor = 100 + (int64_t)(pay % 9901);
    size_t n = s->rows > 0 ? s->rows : 1;
    row->time_us = s->day_start_us + (int64_t)((uint64_t)index * 86399u / n) * US_PER_S;
}

/* ---- WeChat -------------------------------------------------------------- */

static const char wechat_header[] =
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
    "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
    "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,"
    "费率备注";

static void wechat_row(line_t *l, const char *mch, const sim_bill_row_t *r)
{
    put(l, "`");
    put_time(l, r->time_us, ' ');
    put(l, ",`wxd678efh567hg6787,`");
    put(l, mch);
    put(l, ",`0,`,`");
    put(l, r->channel_txn_id);
    put(l, ",`");
    put(l, r->merchant_order_no);
    put(l, r->refund ? ",`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`APP,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`"
                     : ",`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`APP,`SUCCESS,`OTHERS,`CNY,`");
    if (r->refund) {
        put(l, r->refund_id);
        put(l, ",`R");
        put(l, r->refund_id);
        put(l, ",`");
        put_money(l, r->amount_minor);
        put(l, ",`0.00,`ORIGINAL,`SUCCESS,`648钻石,`,`0.00,`0.60%,`0.00,`");
        put_money(l, r->amount_minor);
    } else {
        put_money(l, r->amount_minor);
        put(l, ",`0.00,`0,`0,`0.00,`0.00,`,`,`648钻石,`,`0.00,`0.60%,`");
        put_money(l, r->amount_minor);
        put(l, ",`0.00");
    }
    put(l, ",`");
}

ps_err_t sim_bills_write_wechat(const sim_bill_params_t *p, ps_buf_t *out)
{
    PS_ASSERT(p != NULL && p->row_fn != NULL && out != NULL && p->merchant_id != NULL);
    line_t l = {.n = 0};
    int64_t pay = 0, ref = 0;
    ps_err_t err = ps_buf_append_str(out, wechat_header);

    if (err == PS_OK)
        err = ps_buf_append(out, "\r\n", 2);
    for (size_t i = 0; err == PS_OK && i < p->rows; i++) {
        sim_bill_row_t r;
        memset(&r, 0, sizeof(r));
        p->row_fn(p->opaque, i, &r);
        *(r.refund ? &ref : &pay) += r.amount_minor;
        wechat_row(&l, p->merchant_id, &r);
        err = flush(&l, out, "\r\n");
    }
    if (err != PS_OK)
        return err;
    put(&l, "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,"
            "申请退款总金额");
    err = flush(&l, out, "\r\n");
    put(&l, "`");
    put_u64(&l, p->rows, 1);
    put(&l, ",`");
    put_money(&l, pay);
    put(&l, ",`");
    put_money(&l, ref);
    put(&l, ",`0.00,`0.00,`");
    put_money(&l, pay);
    put(&l, ",`");
    put_money(&l, ref);
    return err != PS_OK ? err : flush(&l, out, "\r\n");
}

/* ---- Alipay -------------------------------------------------------------- */

static const char alipay_header[] =
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,"
    "对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,"
    "商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,"
    "退款批次号/请求号,服务费（元）,分润（元）,备注";

static void alipay_row(line_t *l, const sim_bill_row_t *r)
{
    int64_t signed_minor = r->refund ? -r->amount_minor : r->amount_minor;
    put(l, r->channel_txn_id);
    put(l, "\t,");
    put(l, r->merchant_order_no);
    put(l, r->refund ? "\t,退款\t,648钻石," : "\t,交易\t,648钻石,");
    put_time(l, r->time_us, ' ');
    put(l, ",");
    put_time(l, r->time_us, ' ');
    put(l, ",\t,\t,\t,\t,abc***@example.com\t,");
    put_money(l, signed_minor);
    put(l, ",");
    put_money(l, signed_minor);
    put(l, ",0.00,0.00,0.00,0.00,0.00,,0.00\t,0.00,");
    put(l, r->refund ? r->refund_id : "");
    put(l, "\t,0.00,0.00,");
}

static ps_err_t alipay_utf8(const sim_bill_params_t *p, int64_t start_us, ps_buf_t *out)
{
    line_t l = {.n = 0};
    int64_t pay = 0, ref = 0, npay = 0, nref = 0;
    ps_err_t err;

    put(&l, "#支付宝业务明细查询\r\n#账号：[");
    put(&l, p->merchant_id);
    put(&l, "0156]\r\n#起始日期：[");
    put_cn_date(&l, start_us, "00:00:00");
    put(&l, "]   终止日期：[");
    put_cn_date(&l, start_us + 86400 * US_PER_S, "00:00:00");
    put(&l, "]\r\n#-----------------------------------------业务明细列表"
            "----------------------------------------\r\n");
    put(&l, alipay_header);
    err = flush(&l, out, "\r\n");
    for (size_t i = 0; err == PS_OK && i < p->rows; i++) {
        sim_bill_row_t r;
        memset(&r, 0, sizeof(r));
        p->row_fn(p->opaque, i, &r);
        *(r.refund ? &ref : &pay) += r.amount_minor;
        *(r.refund ? &nref : &npay) += 1;
        alipay_row(&l, &r);
        err = flush(&l, out, "\r\n");
    }
    put(&l, "#-----------------------------------------业务明细列表结束"
            "------------------------------------\r\n#交易合计：");
    put_u64(&l, (uint64_t)npay, 1);
    put(&l, "笔，商家实收共");
    put_money(&l, pay);
    put(&l, "元，商家优惠共0.00元\r\n#退款合计：");
    put_u64(&l, (uint64_t)nref, 1);
    put(&l, "笔，商家实收退款共");
    put_money(&l, -ref);
    put(&l, "元，商家优惠退款共0.00元\r\n#导出时间：[");
    put_cn_date(&l, start_us + 86400 * US_PER_S, "09:30:00");
    put(&l, "]");
    return err != PS_OK ? err : flush(&l, out, "\r\n");
}

/* Appends the GBK form of UTF-8 text to out. */
static ps_err_t to_gbk(const uint8_t *in, size_t len, ps_buf_t *out)
{
    iconv_t cd = iconv_open("GBK", "UTF-8");
    if (cd == (iconv_t)-1)
        return PS_ERR_UNSUPPORTED;
    ps_err_t err = ps_buf_reserve(out, len + 1); /* GBK is never longer than UTF-8 */
    if (err == PS_OK) {
        char *ip = (char *)in, *op = (char *)out->data + out->len;
        size_t il = len, ol = out->cap - out->len;
        if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1)
            err = PS_ERR_INVALID;
        else {
            out->len = (size_t)(op - (char *)out->data);
            out->data[out->len] = 0;
        }
    }
    iconv_close(cd);
    return err;
}

ps_err_t sim_bills_write_alipay_csv(const sim_bill_params_t *p, ps_buf_t *out)
{
    PS_ASSERT(p != NULL && p->row_fn != NULL && out != NULL && p->merchant_id != NULL);
    int64_t start_us;
    ps_buf_t utf8;

    if (day_start(p->bill_date, &start_us) != PS_OK)
        return PS_ERR_INVALID;
    ps_buf_init(&utf8, out->max);
    ps_err_t err = alipay_utf8(p, start_us, &utf8);
    if (err == PS_OK)
        err = to_gbk(utf8.data, utf8.len, out);
    ps_buf_deinit(&utf8);
    return err;
}

/* Zips data as one deflated entry named name (raw bytes) and appends the archive to out. */
static ps_err_t zip_one(const char *name, const uint8_t *data, size_t len, ps_buf_t *out)
{
    zip_error_t zerr;
    zip_source_t *mem, *file;
    zip_t *za;
    ps_err_t err = PS_ERR_IO;

    zip_error_init(&zerr);
    mem = zip_source_buffer_create(NULL, 0, 0, &zerr);
    if (mem == NULL)
        return PS_ERR_IO;
    zip_source_keep(mem); /* read the archive back after zip_close */
    za = zip_open_from_source(mem, ZIP_TRUNCATE, &zerr);
    file = za != NULL ? zip_source_buffer(za, data, len, 0) : NULL;
    /* ENC_GUESS stores a non-UTF-8 name as is, without the UTF-8 flag, like Alipay. */
    if (file == NULL || zip_file_add(za, name, file, ZIP_FL_ENC_GUESS) < 0) {
        zip_source_free(file);
        zip_discard(za);
        goto out;
    }
    if (zip_close(za) != 0) {
        zip_discard(za);
        goto out;
    }
    zip_stat_t st;
    if (zip_source_stat(mem, &st) == 0 && zip_source_open(mem) == 0) {
        err = ps_buf_reserve(out, (size_t)st.size);
        if (err == PS_OK &&
            zip_source_read(mem, out->data + out->len, st.size) == (zip_int64_t)st.size) {
            out->len += (size_t)st.size;
            out->data[out->len] = 0;
        } else if (err == PS_OK) {
            err = PS_ERR_IO;
        }
        zip_source_close(mem);
    }
out:
    zip_source_free(mem);
    return err;
}

ps_err_t sim_bills_write_alipay_zip(const sim_bill_params_t *p, ps_buf_t *out)
{
    ps_buf_t csv;
    char name[128];

    if (p->bill_date == NULL || strlen(p->bill_date) != 10)
        return PS_ERR_INVALID;
    /* "<pid>_<yyyyMMdd>_业务明细.csv" with the Chinese part in GBK. */
    snprintf(name, sizeof(name), "%s_%.4s%.2s%.2s_\xd2\xb5\xce\xf1\xc3\xf7\xcf\xb8.csv",
             p->merchant_id, p->bill_date, p->bill_date + 5, p->bill_date + 8);
    ps_buf_init(&csv, out->max);
    ps_err_t err = sim_bills_write_alipay_csv(p, &csv);
    if (err == PS_OK)
        err = zip_one(name, csv.data, csv.len, out);
    ps_buf_deinit(&csv);
    return err;
}

/* ---- generic, gzip, files ------------------------------------------------ */

ps_err_t sim_bills_write_generic(const sim_bill_params_t *p, ps_buf_t *out)
{
    PS_ASSERT(p != NULL && p->row_fn != NULL && out != NULL && p->merchant_id != NULL);
    line_t l = {.n = 0};
    int64_t start_us, pay = 0, ref = 0;

    if (day_start(p->bill_date, &start_us) != PS_OK)
        return PS_ERR_INVALID;
    put(&l, "#paystream-statement v1,merchant=");
    put(&l, p->merchant_id);
    put(&l, ",start=");
    put_time(&l, start_us, 'T');
    put(&l, "+08:00,end=");
    put_time(&l, start_us + 86400 * US_PER_S, 'T');
    put(&l, "+08:00\nchannel,kind,merchant_order_no,channel_txn_id,refund_id,amount,currency,"
            "time,status");
    ps_err_t err = flush(&l, out, "\n");
    for (size_t i = 0; err == PS_OK && i < p->rows; i++) {
        sim_bill_row_t r;
        memset(&r, 0, sizeof(r));
        p->row_fn(p->opaque, i, &r);
        *(r.refund ? &ref : &pay) += r.amount_minor;
        put(&l, r.refund ? "wechat,refund," : "wechat,payment,");
        put(&l, r.merchant_order_no);
        put(&l, ",");
        put(&l, r.channel_txn_id);
        put(&l, ",");
        put(&l, r.refund ? r.refund_id : "");
        put(&l, ",");
        put_money(&l, r.amount_minor);
        put(&l, ",CNY,");
        put_time(&l, r.time_us, 'T');
        put(&l, "+08:00,SUCCESS");
        err = flush(&l, out, "\n");
    }
    put(&l, "#end,rows=");
    put_u64(&l, p->rows, 1);
    put(&l, ",payment_total_minor=");
    put_u64(&l, (uint64_t)pay, 1);
    put(&l, ",refund_total_minor=");
    put_u64(&l, (uint64_t)ref, 1);
    return err != PS_OK ? err : flush(&l, out, "\n");
}

ps_err_t sim_bills_gzip(const uint8_t *data, size_t len, ps_buf_t *out)
{
    z_stream zs;
    ps_err_t err = PS_OK;
    int zrc = Z_OK;

    memset(&zs, 0, sizeof(zs));
    /* 31 = 15-bit window + gzip wrapper; fastest level: bills are generated in bulk. */
    if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return PS_ERR_IO;
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)len;
    PS_ASSERT(len <= UINT32_MAX);
    while (err == PS_OK && zrc != Z_STREAM_END) {
        err = ps_buf_reserve(out, 64 * 1024);
        if (err != PS_OK)
            break;
        zs.next_out = out->data + out->len;
        zs.avail_out = (uInt)(out->cap - out->len);
        uInt before = zs.avail_out;
        zrc = deflate(&zs, Z_FINISH);
        out->len += before - zs.avail_out;
        out->data[out->len] = 0;
        if (zrc != Z_OK && zrc != Z_STREAM_END && zrc != Z_BUF_ERROR)
            err = PS_ERR_IO;
    }
    deflateEnd(&zs);
    return err;
}

ps_err_t sim_bills_write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return PS_ERR_IO;
    bool ok = fwrite(data, 1, len, f) == len;
    ok = fclose(f) == 0 && ok;
    return ok ? PS_OK : PS_ERR_IO;
}
