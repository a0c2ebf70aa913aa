#ifndef FLEET_CRABBITMQ_SHIM_H
#define FLEET_CRABBITMQ_SHIM_H

// rabbitmq-c 0.12+ moved its headers under rabbitmq-c/; 0.11 (Debian 12) keeps them at the top.
#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/tcp_socket.h>
#else
#include <amqp.h>
#include <amqp_tcp_socket.h>
#endif

// amqp_login is variadic, which Swift cannot call: this fixes the PLAIN mechanism's arguments.
static inline amqp_rpc_reply_t fleet_amqp_login_plain(amqp_connection_state_t state, const char *vhost,
                                                      int channel_max, int frame_max, int heartbeat,
                                                      const char *user, const char *password) {
    return amqp_login(state, vhost, channel_max, frame_max, heartbeat, AMQP_SASL_METHOD_PLAIN, user, password);
}

// The table entry's value is a C union; these setters keep Swift away from union layout details.
static inline void fleet_amqp_field_utf8(amqp_field_value_t *v, amqp_bytes_t bytes) {
    v->kind = AMQP_FIELD_KIND_UTF8; v->value.bytes = bytes;
}
static inline void fleet_amqp_field_i64(amqp_field_value_t *v, int64_t i) {
    v->kind = AMQP_FIELD_KIND_I64; v->value.i64 = i;
}
static inline void fleet_amqp_field_bool(amqp_field_value_t *v, amqp_boolean_t b) {
    v->kind = AMQP_FIELD_KIND_BOOLEAN; v->value.boolean = b;
}
static inline void fleet_amqp_field_double(amqp_field_value_t *v, double d) {
    v->kind = AMQP_FIELD_KIND_F64; v->value.f64 = d;
}
// Method ids and property flags are cast macros, which Swift does not import: name them as constants.
static const amqp_method_number_t FLEET_BASIC_DELIVER = AMQP_BASIC_DELIVER_METHOD;
static const amqp_method_number_t FLEET_BASIC_ACK = AMQP_BASIC_ACK_METHOD;
static const amqp_method_number_t FLEET_BASIC_NACK = AMQP_BASIC_NACK_METHOD;
static const amqp_method_number_t FLEET_BASIC_RETURN = AMQP_BASIC_RETURN_METHOD;
static const amqp_method_number_t FLEET_BASIC_CANCEL = AMQP_BASIC_CANCEL_METHOD;
static const amqp_method_number_t FLEET_CHANNEL_CLOSE = AMQP_CHANNEL_CLOSE_METHOD;
static const amqp_method_number_t FLEET_CONNECTION_CLOSE = AMQP_CONNECTION_CLOSE_METHOD;
static const amqp_flags_t FLEET_FLAG_CONTENT_TYPE = AMQP_BASIC_CONTENT_TYPE_FLAG;
static const amqp_flags_t FLEET_FLAG_HEADERS = AMQP_BASIC_HEADERS_FLAG;
static const amqp_flags_t FLEET_FLAG_DELIVERY_MODE = AMQP_BASIC_DELIVERY_MODE_FLAG;
static const amqp_flags_t FLEET_FLAG_CORRELATION_ID = AMQP_BASIC_CORRELATION_ID_FLAG;
static const amqp_flags_t FLEET_FLAG_REPLY_TO = AMQP_BASIC_REPLY_TO_FLAG;
static const amqp_flags_t FLEET_FLAG_EXPIRATION = AMQP_BASIC_EXPIRATION_FLAG;
static const amqp_flags_t FLEET_FLAG_MESSAGE_ID = AMQP_BASIC_MESSAGE_ID_FLAG;
static const amqp_flags_t FLEET_FLAG_TIMESTAMP = AMQP_BASIC_TIMESTAMP_FLAG;
static const amqp_flags_t FLEET_FLAG_TYPE = AMQP_BASIC_TYPE_FLAG;
static const amqp_flags_t FLEET_FLAG_USER_ID = AMQP_BASIC_USER_ID_FLAG;
#endif
