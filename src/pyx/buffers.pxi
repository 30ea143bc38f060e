from cpython.buffer cimport PyBUF_WRITABLE

cdef class PlasmaBuffer:
    """Read-only view of an object's bytes in shared memory. The object stays
    pinned in the store while this buffer (or any array built on it) lives."""
    cdef shared_ptr[CBuffer] buf
    cdef Py_ssize_t shape[1]
    cdef Py_ssize_t strides[1]

    def __len__(self):
        return self.buf.get().size()

    def __getbuffer__(self, Py_buffer* view, int flags):
        if flags & PyBUF_WRITABLE:
            raise BufferError("objects in the lumos object store are immutable (read-only)")
        self.shape[0] = self.buf.get().size()
        self.strides[0] = 1
        view.buf = <void*>self.buf.get().data()
        view.obj = self
        view.len = self.shape[0]
        view.readonly = 1
        view.itemsize = 1
        view.format = "B"
        view.ndim = 1
        view.shape = self.shape
        view.strides = self.strides
        view.suboffsets = NULL
        view.internal = NULL

    def __releasebuffer__(self, Py_buffer* view):
        pass


cdef PlasmaBuffer _wrap_plasma(shared_ptr[CBuffer] b):
    cdef PlasmaBuffer pb = PlasmaBuffer.__new__(PlasmaBuffer)
    pb.buf = b
    return pb


cdef class WritableBuffer:
    """Writable window over freshly created, unsealed object store memory. Valid
    only until the object is sealed or aborted."""
    cdef uint8_t* ptr
    cdef Py_ssize_t size
    cdef Py_ssize_t shape[1]
    cdef Py_ssize_t strides[1]

    def __getbuffer__(self, Py_buffer* view, int flags):
        self.shape[0] = self.size
        self.strides[0] = 1
        view.buf = <void*>self.ptr
        view.obj = self
        view.len = self.size
        view.readonly = 0
        view.itemsize = 1
        view.format = "B"
        view.ndim = 1
        view.shape = self.shape
        view.strides = self.strides
        view.suboffsets = NULL
        view.internal = NULL

    def __releasebuffer__(self, Py_buffer* view):
        pass


cdef _write_pieces(uint8_t* dst, size_t size, pieces):
    """Copies each (offset, buffer) piece into dst with the GIL released."""
    cdef const uint8_t[::1] src
    cdef size_t off, n
    for off, piece in pieces:
        mv = memoryview(piece)
        if not mv.c_contiguous:
            mv = memoryview(mv.tobytes())
        mv = mv.cast("B")
        n = mv.nbytes
        if n == 0:
            continue
        if off + n > size:
            raise ValueError("serialized piece overflows its object")
        src = mv
        with nogil:
            memcpy(dst + off, &src[0], n)
