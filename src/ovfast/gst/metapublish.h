/* ovfastmetapublish's outputs, in C (no Python, no GIL): a file (or stdout) and an MQTT broker.
 *
 * File: file-format=json writes one JSON array ("[", messages separated by ",\n", "]" at the end, as
 * gvametapublish does), json-lines one message a line. Every frame's messages are flushed before the frame
 * goes on, so what downstream has seen is on disk, and a write that fails stops the pipeline at that frame.
 *
 * MQTT: libmosquitto (the Debian package libmosquitto1), loaded with dlopen the first time method=mqtt
 * starts, so ovfast builds and runs without it. Its network thread (mosquitto_loop_start) connects,
 * reconnects and sends; the element's thread only queues a message (mosquitto_publish, QoS 1), so a slow
 * or absent broker never stalls the pipeline. While the broker is away, messages wait in libmosquitto's
 * memory, up to max-backlog not yet acknowledged; they are sent when it reconnects (at least once: a
 * message the broker took but did not acknowledge before it went may come twice). Beyond max-backlog
 * new messages are dropped, counted and reported as a warning on the bus. */
#ifndef OVFAST_METAPUBLISH_H
#define OVFAST_METAPUBLISH_H

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <gst/gst.h>

#include "_gst_glue.h"

/* --- libmosquitto, through dlopen (its ABI, libmosquitto.so.1) ------------------------------------------- */
struct mosquitto;
typedef struct {
    int (*lib_init)(void);
    struct mosquitto* (*new_)(const char* id, bool clean_session, void* obj);
    void (*destroy)(struct mosquitto*);
    int (*connect)(struct mosquitto*, const char* host, int port, int keepalive);
    int (*disconnect)(struct mosquitto*);
    int (*loop_start)(struct mosquitto*);
    int (*loop_stop)(struct mosquitto*, bool force);
    int (*publish)(struct mosquitto*, int* mid, const char* topic, int len, const void* payload, int qos, bool retain);
    int (*reconnect_delay_set)(struct mosquitto*, unsigned int delay, unsigned int delay_max, bool backoff);
    void (*connect_callback_set)(struct mosquitto*, void (*)(struct mosquitto*, void*, int));
    void (*disconnect_callback_set)(struct mosquitto*, void (*)(struct mosquitto*, void*, int));
    void (*publish_callback_set)(struct mosquitto*, void (*)(struct mosquitto*, void*, int));
    const char* (*strerror)(int);
} OvfMosquitto;

enum {
    OVF_MOSQ_ERR_SUCCESS = 0, OVF_MOSQ_ERR_NOMEM = 1, OVF_MOSQ_ERR_INVAL = 3, OVF_MOSQ_ERR_PAYLOAD_SIZE = 9,
    OVF_MOSQ_ERR_ERRNO = 14, OVF_MOSQ_ERR_EAI = 15, OVF_MOSQ_ERR_MALFORMED_UTF8 = 18,
    OVF_MOSQ_ERR_QOS_NOT_SUPPORTED = 24, OVF_MOSQ_ERR_OVERSIZE_PACKET = 25
};

/* mosquitto_publish's errors that mean the message was refused, not queued: the others (no connection, a
 * lost one) come after a QoS 1 message joined the queue, which is sent once the client reconnects. */
static gboolean ovf_mosq_refused(int rc) {
    return rc == OVF_MOSQ_ERR_NOMEM || rc == OVF_MOSQ_ERR_INVAL || rc == OVF_MOSQ_ERR_PAYLOAD_SIZE
           || rc == OVF_MOSQ_ERR_MALFORMED_UTF8 || rc == OVF_MOSQ_ERR_QOS_NOT_SUPPORTED
           || rc == OVF_MOSQ_ERR_OVERSIZE_PACKET;
}

static OvfMosquitto ovf_mosq;
static gsize ovf_mosq_loaded = 0;     /* g_once_init: 1 loaded, 2 not there */
static char ovf_mosq_error[256];

static gboolean ovf_mosq_load(void) {
    if (g_once_init_enter(&ovf_mosq_loaded)) {
        gsize result = 2;
        void* lib = dlopen("libmosquitto.so.1", RTLD_NOW | RTLD_LOCAL);
        if (lib == NULL) {
            g_snprintf(ovf_mosq_error, sizeof ovf_mosq_error, "%s", dlerror());
        } else {
#define OVF_SYM(field, name) *(void**)&ovf_mosq.field = dlsym(lib, name); if (!ovf_mosq.field) goto missing;
            OVF_SYM(lib_init, "mosquitto_lib_init")
            OVF_SYM(new_, "mosquitto_new")
            OVF_SYM(destroy, "mosquitto_destroy")
            OVF_SYM(connect, "mosquitto_connect")
            OVF_SYM(disconnect, "mosquitto_disconnect")
            OVF_SYM(loop_start, "mosquitto_loop_start")
            OVF_SYM(loop_stop, "mosquitto_loop_stop")
            OVF_SYM(publish, "mosquitto_publish")
            OVF_SYM(reconnect_delay_set, "mosquitto_reconnect_delay_set")
            OVF_SYM(connect_callback_set, "mosquitto_connect_callback_set")
            OVF_SYM(disconnect_callback_set, "mosquitto_disconnect_callback_set")
            OVF_SYM(publish_callback_set, "mosquitto_publish_callback_set")
            OVF_SYM(strerror, "mosquitto_strerror")
#undef OVF_SYM
            ovf_mosq.lib_init();
            result = 1;
            goto done;
        missing:
            g_snprintf(ovf_mosq_error, sizeof ovf_mosq_error, "libmosquitto.so.1 lacks %s", dlerror());
        }
    done:
        g_once_init_leave(&ovf_mosq_loaded, result);
    }
    return ovf_mosq_loaded == 1;
}

/* --- the publisher -------------------------------------------------------------------------------------- */
enum { OVF_PUBLISH_FILE = 1, OVF_PUBLISH_MQTT = 2 };

typedef struct {
    int method;                /* 0 until opened */
    GstElement* element;       /* for messages on the bus (not a reference: the element owns the publisher) */
    /* file */
    FILE* file;
    char* file_path;
    gboolean json_lines;
    gboolean is_stdout;
    guint64 written;           /* messages written in this stream */
    gboolean ended;            /* json: the array is closed (EOS); a new stream starts a new one */
    /* mqtt */
    struct mosquitto* mosq;
    char* topic;
    char* address;
    gint connected;            /* atomics: the network thread writes them */
    gint refused;              /* the broker's CONNACK code when it refused the connection */
    gint pending;              /* published, not yet acknowledged */
    gint dropped;              /* dropped since the backlog was last not full */
    guint max_backlog;
} OvfPublisher;

/* Posts the formatted error naming what failed; returns -1. */
static int ovf_publish_fail(OvfPublisher* p, int code, const char* format, ...) G_GNUC_PRINTF(3, 4);
static int ovf_publish_fail(OvfPublisher* p, int code, const char* format, ...) {
    va_list args;
    char* text;
    va_start(args, format);
    text = g_strdup_vprintf(format, args);
    va_end(args);
    ovf_post_error(p->element, gst_resource_error_quark(), code, text, NULL);
    g_free(text);
    return -1;
}

static void ovf_mqtt_on_connect(struct mosquitto* m, void* user, int rc) {
    OvfPublisher* p = (OvfPublisher*)user;
    (void)m;
    if (rc == 0) g_atomic_int_set(&p->connected, 1);
    else g_atomic_int_set(&p->refused, rc);
}

static void ovf_mqtt_on_disconnect(struct mosquitto* m, void* user, int rc) {
    OvfPublisher* p = (OvfPublisher*)user;
    (void)m;
    if (g_atomic_int_get(&p->connected) && rc != 0) {
        char* text = g_strdup_printf("lost the MQTT broker at %s; reconnecting (up to max-backlog=%u messages "
                                     "wait meanwhile)", p->address, p->max_backlog);
        ovf_post_warning(p->element, gst_resource_error_quark(), GST_RESOURCE_ERROR_WRITE, text);
        g_free(text);
    }
    g_atomic_int_set(&p->connected, 0);
}

static void ovf_mqtt_on_publish(struct mosquitto* m, void* user, int mid) {
    (void)m; (void)mid;
    g_atomic_int_add(&((OvfPublisher*)user)->pending, -1);
}

/* "host[:port]" -> host (g_free), port; FALSE if the port is not a number in 1..65535. */
static gboolean ovf_mqtt_address(const char* address, char** host, int* port) {
    const char* colon = strrchr(address, ':');
    char* end;
    long v = 1883;
    if (colon != NULL && strchr(address, ']') == NULL && colon != strchr(address, ':'))  /* bare IPv6 */
        colon = NULL;
    if (colon != NULL) {
        errno = 0;
        v = strtol(colon + 1, &end, 10);
        if (errno || *end || end == colon + 1 || v < 1 || v > 65535) return FALSE;
    }
    *host = colon ? g_strndup(address, colon - address) : g_strdup(address);
    if ((*host)[0] == '[') {                   /* [v6]:port */
        char* inner = g_strndup(*host + 1, strlen(*host) - 2);
        g_free(*host);
        *host = inner;
    }
    *port = (int)v;
    return (*host)[0] != 0;
}

static int ovf_publisher_connect(OvfPublisher* p, const char* address, const char* host, int port,
                                 const char* client_id) {
    int rc;
    p->mosq = ovf_mosq.new_(client_id && client_id[0] ? client_id : NULL, true, p);
    if (p->mosq == NULL)
        return ovf_publish_fail(p, GST_RESOURCE_ERROR_OPEN_WRITE, "cannot make an MQTT client (out of memory?)");
    ovf_mosq.connect_callback_set(p->mosq, ovf_mqtt_on_connect);
    ovf_mosq.disconnect_callback_set(p->mosq, ovf_mqtt_on_disconnect);
    ovf_mosq.publish_callback_set(p->mosq, ovf_mqtt_on_publish);
    ovf_mosq.reconnect_delay_set(p->mosq, 1, 4, false);
    rc = ovf_mosq.connect(p->mosq, host, port, 30);
    if (rc == OVF_MOSQ_ERR_EAI)
        return ovf_publish_fail(p, GST_RESOURCE_ERROR_OPEN_WRITE, "address=%s: the host '%s' does not resolve",
                                address, host);
    if (rc != OVF_MOSQ_ERR_SUCCESS)
        return ovf_publish_fail(p, GST_RESOURCE_ERROR_OPEN_WRITE, "address=%s: cannot connect to the MQTT broker: %s",
                                address, rc == OVF_MOSQ_ERR_ERRNO ? g_strerror(errno) : ovf_mosq.strerror(rc));
    if (ovf_mosq.loop_start(p->mosq) != OVF_MOSQ_ERR_SUCCESS)
        return ovf_publish_fail(p, GST_RESOURCE_ERROR_OPEN_WRITE, "cannot start the MQTT client's thread");
    /* The broker's answer (CONNACK) before the first message: a broker that refuses the client is an error
     * now, not a backlog that never drains; and no message is handed to libmosquitto while its thread
     * handles the CONNACK, when it also sends again what it holds unacknowledged (a message published
     * then can go out twice). A broker that has not answered in 5 s: the element starts, and messages wait
     * as they do while a broker is away. */
    for (int waited = 0; waited < 5000 && !g_atomic_int_get(&p->connected) && !g_atomic_int_get(&p->refused);
         waited++)
        g_usleep(1000);
    if (g_atomic_int_get(&p->refused))
        return ovf_publish_fail(p, GST_RESOURCE_ERROR_OPEN_WRITE, "address=%s: the MQTT broker refused the "
                                "connection (CONNACK code %d)", address, g_atomic_int_get(&p->refused));
    return 0;
}

static int ovf_publisher_open_mqtt(OvfPublisher* p, const char* address, const char* topic, const char* client_id) {
    char* host = NULL;
    int port, rc;
    if (!ovf_mosq_load())
        return ovf_publish_fail(p, GST_RESOURCE_ERROR_NOT_FOUND, "method=mqtt needs libmosquitto (Debian: apt-get "
                                "install libmosquitto1): %s", ovf_mosq_error);
    if (address == NULL || !ovf_mqtt_address(address, &host, &port)) {
        g_free(host);
        return ovf_publish_fail(p, GST_RESOURCE_ERROR_SETTINGS, "address=%s: expected the MQTT broker as host:port "
                                "(e.g. localhost:1883)", address ? address : "(none)");
    }
    if (topic == NULL || !topic[0] || strpbrk(topic, "+#")) {
        g_free(host);
        return ovf_publish_fail(p, GST_RESOURCE_ERROR_SETTINGS, "topic=%s: expected an MQTT topic to publish to, "
                                "without the wildcards + and #", topic ? topic : "(none)");
    }
    p->address = g_strdup(address);
    p->topic = g_strdup(topic);
    g_atomic_int_set(&p->connected, 0);
    g_atomic_int_set(&p->refused, 0);
    rc = ovf_publisher_connect(p, address, host, port, client_id);
    g_free(host);
    return rc;
}

static int ovf_publisher_open_file(OvfPublisher* p, const char* path, const char* format) {
    if (path == NULL || !path[0] || strcmp(path, "stdout") == 0) {
        p->file = stdout;
        p->is_stdout = TRUE;
    } else {
        p->file = fopen(path, "w");
        if (p->file == NULL)
            return ovf_publish_fail(p, GST_RESOURCE_ERROR_OPEN_WRITE, "file-path=%s: cannot open it for writing: %s",
                                    path, g_strerror(errno));
    }
    p->file_path = g_strdup(p->is_stdout ? "stdout" : path);
    p->json_lines = strcmp(format, "json-lines") == 0;
    return 0;
}

/* 0, or -1 with an error posted. method, format: validated by the caller. */
static int ovf_publisher_open(OvfPublisher* p, GstElement* element, const char* method, const char* file_path,
                              const char* file_format, const char* address, const char* topic,
                              const char* client_id, guint max_backlog) {
    memset(p, 0, sizeof *p);
    p->element = element;
    p->max_backlog = max_backlog;
    if (strcmp(method, "file") == 0) {
        p->method = OVF_PUBLISH_FILE;
        return ovf_publisher_open_file(p, file_path, file_format);
    }
    p->method = OVF_PUBLISH_MQTT;
    return ovf_publisher_open_mqtt(p, address, topic, client_id);
}

static int ovf_publisher_write(OvfPublisher* p, const char* message) {
    const char* lead;
    if (p->ended) {
        p->ended = FALSE;
        p->written = 0;
    }
    lead = p->json_lines ? "" : (p->written ? ",\n" : "[\n");
    if (fputs(lead, p->file) < 0 || fputs(message, p->file) < 0 || (p->json_lines && fputc('\n', p->file) < 0))
        return ovf_publish_fail(p, GST_RESOURCE_ERROR_WRITE, "file-path=%s: cannot write: %s", p->file_path,
                                g_strerror(errno));
    p->written++;
    return 0;
}

static int ovf_publisher_flush(OvfPublisher* p) {
    if (p->method != OVF_PUBLISH_FILE || fflush(p->file) == 0) return 0;
    return ovf_publish_fail(p, GST_RESOURCE_ERROR_WRITE, "file-path=%s: cannot write: %s", p->file_path,
                            g_strerror(errno));
}

static int ovf_publisher_mqtt(OvfPublisher* p, const char* message) {
    int rc, dropped;
    char* text;
    size_t len = strlen(message);
    if ((guint)g_atomic_int_get(&p->pending) >= p->max_backlog) {
        if (g_atomic_int_add(&p->dropped, 1) == 0) {
            text = g_strdup_printf("the MQTT broker at %s has not acknowledged max-backlog=%u messages: dropping "
                                   "new messages until it does", p->address, p->max_backlog);
            ovf_post_warning(p->element, gst_resource_error_quark(), GST_RESOURCE_ERROR_WRITE, text);
            g_free(text);
        }
        return 0;
    }
    dropped = g_atomic_int_and((guint*)&p->dropped, 0);
    if (dropped) {
        text = g_strdup_printf("the MQTT broker at %s takes messages again; %d were dropped", p->address, dropped);
        ovf_post_warning(p->element, gst_resource_error_quark(), GST_RESOURCE_ERROR_WRITE, text);
        g_free(text);
    }
    if (len > (size_t)G_MAXINT) len = 0;
    g_atomic_int_inc(&p->pending);
    rc = ovf_mosq.publish(p->mosq, NULL, p->topic, (int)len, message, 1, false);
    if (ovf_mosq_refused(rc)) {
        g_atomic_int_add(&p->pending, -1);
        return ovf_publish_fail(p, GST_RESOURCE_ERROR_WRITE, "cannot publish to topic %s at %s: %s", p->topic,
                                p->address, ovf_mosq.strerror(rc));
    }
    return 0;
}

/* Publishes every JSON message (OvfastJSONMeta) on the buffer; 0, or -1 with an error posted. */
static int ovf_publisher_send(OvfPublisher* p, GstBuffer* buf) {
    GType api = g_type_from_name(OVFAST_JSON_META_API_NAME);
    gpointer state = NULL;
    GstMeta* meta;
    const char* message;
    if (api == 0) return 0;
    while ((meta = gst_buffer_iterate_meta_filtered(buf, &state, api))) {
        message = ((OvfastJSONMeta*)meta)->message;
        if (message == NULL) continue;
        if ((p->method == OVF_PUBLISH_FILE ? ovf_publisher_write(p, message) : ovf_publisher_mqtt(p, message)) != 0)
            return -1;
    }
    return ovf_publisher_flush(p);
}

/* The stream ended or the element stops: closes the JSON array; lets the broker acknowledge what waits
 * (up to timeout_ms while it is connected). */
static void ovf_publisher_finish(OvfPublisher* p, int timeout_ms) {
    int waited = 0;
    if (p->method == OVF_PUBLISH_FILE && p->file && !p->json_lines && !p->ended) {
        fputs(p->written ? "\n]\n" : "[]\n", p->file);
        p->ended = TRUE;
        fflush(p->file);
    } else if (p->method == OVF_PUBLISH_MQTT && p->mosq) {
        while (g_atomic_int_get(&p->pending) > 0 && g_atomic_int_get(&p->connected) && waited < timeout_ms) {
            g_usleep(1000);
            waited++;
        }
    }
}

static void ovf_publisher_close(OvfPublisher* p) {
    if (p->file && !p->is_stdout) fclose(p->file);
    p->file = NULL;
    if (p->mosq) {
        ovf_mosq.disconnect(p->mosq);
        ovf_mosq.loop_stop(p->mosq, false);
        ovf_mosq.destroy(p->mosq);
        p->mosq = NULL;
    }
    g_free(p->file_path);
    g_free(p->topic);
    g_free(p->address);
    p->file_path = p->topic = p->address = NULL;
    p->method = 0;
}

#endif
