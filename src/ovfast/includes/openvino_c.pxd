# C declarations of openvino/c/openvino.h that ovfast calls; names as in the header.
from libc.stdint cimport int64_t

cdef extern from "openvino/c/openvino.h" nogil:
    ctypedef enum ov_status_e:
        OK
        GENERAL_ERROR
        NOT_IMPLEMENTED
        NETWORK_NOT_LOADED
        PARAMETER_MISMATCH
        NOT_FOUND
        OUT_OF_BOUNDS
        UNEXPECTED
        REQUEST_BUSY
        RESULT_NOT_READY
        NOT_ALLOCATED
        INFER_NOT_STARTED
        NETWORK_NOT_READ
        INFER_CANCELLED
        INVALID_C_PARAM
        UNKNOWN_C_ERROR
        NOT_IMPLEMENT_C_METHOD
        UNKNOW_EXCEPTION

    ctypedef enum ov_element_type_e:
        DYNAMIC
        BOOLEAN
        BF16
        F16
        F32
        F64
        I4
        I8
        I16
        I32
        I64
        U1
        U2
        U3
        U4
        U6
        U8
        U16
        U32
        U64
        NF4
        F8E4M3
        F8E5M3
        STRING
        F4E2M1
        F8E8M0

    const char* ov_get_error_info(ov_status_e status)
    const char* ov_get_last_err_msg()
    void ov_free(const char* content)

    # shapes
    ctypedef struct ov_shape_t:
        int64_t rank
        int64_t* dims
    ov_status_e ov_shape_free(ov_shape_t* shape)

    ctypedef struct ov_dimension_t:
        int64_t min
        int64_t max
    ctypedef ov_dimension_t ov_rank_t
    ctypedef struct ov_partial_shape_t:
        ov_rank_t rank
        ov_dimension_t* dims
    void ov_partial_shape_free(ov_partial_shape_t* partial_shape)
    bint ov_partial_shape_is_dynamic(const ov_partial_shape_t partial_shape)
    const char* ov_partial_shape_to_string(const ov_partial_shape_t partial_shape)

    # version
    ctypedef struct ov_version_t:
        const char* buildNumber
        const char* description
    ctypedef struct ov_core_version_t:
        const char* device_name
        ov_version_t version
    ctypedef struct ov_core_version_list_t:
        ov_core_version_t* versions
        size_t size
    ov_status_e ov_get_openvino_version(ov_version_t* version)
    void ov_version_free(ov_version_t* version)

    # tensor
    ctypedef struct ov_tensor_t:
        pass
    ov_status_e ov_tensor_create_from_host_ptr(const ov_element_type_e type, const ov_shape_t shape,
                                               void* host_ptr, ov_tensor_t** tensor)
    ov_status_e ov_tensor_create(const ov_element_type_e type, const ov_shape_t shape, ov_tensor_t** tensor)
    ov_status_e ov_tensor_set_shape(ov_tensor_t* tensor, const ov_shape_t shape)
    ov_status_e ov_tensor_get_shape(const ov_tensor_t* tensor, ov_shape_t* shape)
    ov_status_e ov_tensor_get_element_type(const ov_tensor_t* tensor, ov_element_type_e* type)
    ov_status_e ov_tensor_get_size(const ov_tensor_t* tensor, size_t* elements_size)
    ov_status_e ov_tensor_get_byte_size(const ov_tensor_t* tensor, size_t* byte_size)
    ov_status_e ov_tensor_data(const ov_tensor_t* tensor, void** data)
    void ov_tensor_free(ov_tensor_t* tensor)

    # ports
    ctypedef struct ov_output_const_port_t:
        pass
    ov_status_e ov_port_get_any_name(const ov_output_const_port_t* port, char** tensor_name)
    ov_status_e ov_port_get_partial_shape(const ov_output_const_port_t* port, ov_partial_shape_t* partial_shape)
    ov_status_e ov_port_get_element_type(const ov_output_const_port_t* port, ov_element_type_e* tensor_type)
    void ov_output_const_port_free(ov_output_const_port_t* port)

    # model
    ctypedef struct ov_model_t:
        pass
    void ov_model_free(ov_model_t* model)

    # properties
    ctypedef struct ov_property_t:
        const char* key
        const void* value

    # infer request
    ctypedef struct ov_infer_request_t:
        pass
    ctypedef struct ov_profiling_info_t:
        int status
        int64_t real_time
        int64_t cpu_time
        const char* node_name
        const char* exec_type
        const char* node_type
    ctypedef struct ov_profiling_info_list_t:
        ov_profiling_info_t* profiling_infos
        size_t size
    ov_status_e ov_infer_request_set_input_tensor_by_index(ov_infer_request_t* infer_request, const size_t idx,
                                                           const ov_tensor_t* tensor)
    ov_status_e ov_infer_request_set_output_tensor_by_index(ov_infer_request_t* infer_request, const size_t idx,
                                                            const ov_tensor_t* tensor)
    ov_status_e ov_infer_request_get_input_tensor_by_index(const ov_infer_request_t* infer_request,
                                                           const size_t idx, ov_tensor_t** tensor)
    ov_status_e ov_infer_request_get_output_tensor_by_index(const ov_infer_request_t* infer_request,
                                                            const size_t idx, ov_tensor_t** tensor)
    ov_status_e ov_infer_request_infer(ov_infer_request_t* infer_request)
    ov_status_e ov_infer_request_cancel(ov_infer_request_t* infer_request)
    ov_status_e ov_infer_request_start_async(ov_infer_request_t* infer_request)
    ov_status_e ov_infer_request_wait(ov_infer_request_t* infer_request)
    ov_status_e ov_infer_request_wait_for(ov_infer_request_t* infer_request, const int64_t timeout)
    void ov_infer_request_free(ov_infer_request_t* infer_request)
    ov_status_e ov_infer_request_get_profiling_info(const ov_infer_request_t* infer_request,
                                                    ov_profiling_info_list_t* profiling_infos)
    void ov_profiling_info_list_free(ov_profiling_info_list_t* profiling_infos)

    # compiled model
    ctypedef struct ov_compiled_model_t:
        pass
    ov_status_e ov_compiled_model_inputs_size(const ov_compiled_model_t* compiled_model, size_t* size)
    ov_status_e ov_compiled_model_input_by_index(const ov_compiled_model_t* compiled_model, const size_t index,
                                                 ov_output_const_port_t** input_port)
    ov_status_e ov_compiled_model_outputs_size(const ov_compiled_model_t* compiled_model, size_t* size)
    ov_status_e ov_compiled_model_output_by_index(const ov_compiled_model_t* compiled_model, const size_t index,
                                                  ov_output_const_port_t** output_port)
    ov_status_e ov_compiled_model_create_infer_request(const ov_compiled_model_t* compiled_model,
                                                       ov_infer_request_t** infer_request)
    ov_status_e ov_compiled_model_set_properties(const ov_compiled_model_t* compiled_model,
                                                 const size_t num_properties, const ov_property_t* properties)
    ov_status_e ov_compiled_model_get_property(const ov_compiled_model_t* compiled_model,
                                               const char* property_key, char** property_value)
    ov_status_e ov_compiled_model_export_model(const ov_compiled_model_t* compiled_model,
                                               const char* export_model_path)
    void ov_compiled_model_free(ov_compiled_model_t* compiled_model)

    # core
    ctypedef struct ov_core_t:
        pass
    ctypedef struct ov_available_devices_t:
        char** devices
        size_t size
    ov_status_e ov_core_create(ov_core_t** core)
    ov_status_e ov_core_create_with_config(const char* xml_config_file, ov_core_t** core)
    void ov_core_free(ov_core_t* core)
    ov_status_e ov_core_compile_model_props(const ov_core_t* core, const ov_model_t* model,
                                            const char* device_name, const size_t num_properties,
                                            const ov_property_t* properties,
                                            ov_compiled_model_t** compiled_model)
    ov_status_e ov_core_compile_model_from_file_props(const ov_core_t* core, const char* model_path,
                                                      const char* device_name, const size_t num_properties,
                                                      const ov_property_t* properties,
                                                      ov_compiled_model_t** compiled_model)
    ov_status_e ov_core_read_model_from_memory_buffer(const ov_core_t* core, const char* model_str,
                                                      const size_t str_len, const ov_tensor_t* weights,
                                                      ov_model_t** model)
    ov_status_e ov_core_set_properties(const ov_core_t* core, const char* device_name,
                                       const size_t num_properties, const ov_property_t* properties)
    ov_status_e ov_core_get_property(const ov_core_t* core, const char* device_name, const char* property_key,
                                     char** property_value)
    ov_status_e ov_core_get_available_devices(const ov_core_t* core, ov_available_devices_t* devices)
    void ov_available_devices_free(ov_available_devices_t* devices)
    ov_status_e ov_core_import_model(const ov_core_t* core, const char* content, const size_t content_size,
                                     const char* device_name, ov_compiled_model_t** compiled_model)
    ov_status_e ov_core_get_versions_by_device_name(const ov_core_t* core, const char* device_name,
                                                    ov_core_version_list_t* versions)
    void ov_core_versions_free(ov_core_version_list_t* versions)
