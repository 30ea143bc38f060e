# The process's core worker, reachable from ObjectRef.__dealloc__. _epoch
# changes at every init/shutdown so refs that outlive a session do nothing.
cdef CCoreWorker* _cw = NULL
cdef int _epoch = 0
_ref_recorder = None   # set by serialization to collect refs being pickled
from types import GenericAlias as _GenericAlias


cimport cython


# no_gc: a ref holds only an id and the owner's bytes, so it can be in no
# reference cycle; untracked, the 10,000 refs one get can unpickle do not
# trigger the cyclic collector's passes (half the time of such a get here).
@cython.no_gc
cdef class ObjectRef:
    """A reference to an object (a task's return or a put value) and its owner."""
    cdef c_string _id
    cdef bytes _owner
    cdef int _epoch
    cdef object __weakref__

    def __init__(self, id, owner=b""):
        if not isinstance(id, bytes) or len(id) != 20:
            raise ValueError("ObjectRef needs the 20-byte binary id of an object, got %r" % (id,))
        self._id = id
        self._owner = owner
        self._epoch = -1
        self._register()

    cdef _register(self):
        cdef CAddress owner
        if _cw != NULL:
            self._epoch = _epoch
            if len(self._owner):
                owner.ParseFromString(self._owner)
                _cw.AddLocalRef(CObjectID.FromBinary(self._id), &owner)
            else:
                _cw.AddLocalRef(CObjectID.FromBinary(self._id), NULL)

    def __dealloc__(self):
        if _cw != NULL and self._epoch == _epoch:
            _cw.RemoveLocalRef(CObjectID.FromBinary(self._id))

    @classmethod
    def from_binary(cls, id_bytes):
        """A ref to the object with this binary id (its owner unknown here)."""
        return cls(id_bytes)

    @classmethod
    def from_hex(cls, hex_id):
        try:
            raw = bytes.fromhex(hex_id.decode() if isinstance(hex_id, bytes) else hex_id)
        except (TypeError, ValueError):
            raise ValueError("ObjectRef.from_hex() needs a hex string of 40 characters, got %r" % (hex_id,)) from None
        return cls(raw)

    @classmethod
    def nil(cls):
        """The nil ref (all-zero id); it refers to no object and is not counted."""
        cdef ObjectRef r = ObjectRef.__new__(ObjectRef)
        r._id = b"\0" * 20
        r._owner = b""
        r._epoch = -1
        return r

    @classmethod
    def size(cls):
        return 20

    def binary(self):
        return _pyb(self._id)

    def hex(self):
        return CObjectID.FromBinary(self._id).Hex().decode()

    def task_id(self):
        """The TaskID of the task that created this object."""
        return TaskID(_pyb(CObjectID.FromBinary(self._id).Task().Binary()))

    def owner_address(self):
        return self._owner

    def is_nil(self):
        return _pyb(self._id) == b"\0" * 20

    def __eq__(self, other):
        return isinstance(other, ObjectRef) and (<ObjectRef>other)._id == self._id

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(_pyb(self._id))

    def __repr__(self):
        return "ObjectRef(%s)" % self.hex()

    def __reduce__(self):
        recorded = _ref_recorder is not None and _ref_recorder(self)
        if not recorded and _cw != NULL and self._epoch == _epoch:
            # Pickled outside lumos's serializer (no carrier tracks it): the
            # owner pins it until it exits, as Ray does for out-of-band refs.
            _cw.MarkEscaped(CObjectID.FromBinary(self._id))
        return (_object_ref_from_pickle, (_pyb(self._id), self._owner))

    def __await__(self):
        from lumos._private.worker import _await_ref
        return _await_ref(self).__await__()

    def future(self):
        from lumos._private.worker import _ref_future
        return _ref_future(self)

    def __class_getitem__(cls, item):
        """ObjectRef[int] in annotations evaluated at run time (the type
        argument is for checkers only; see _raylet.pyi)."""
        return _GenericAlias(cls, item)


# Ray's older name for ObjectRef.
ObjectID = ObjectRef


# The owner address parsed last by _object_ref_from_pickle: the refs of one
# pickled value mostly share one owner (pickle even hands back the same bytes
# object), and parsing the address was the largest cost per unpickled ref.
cdef bytes _last_owner = None
cdef CAddress _last_owner_addr


def _object_ref_from_pickle(bytes id, bytes owner):
    """Unpickles a ref. Refs owned elsewhere make this process a borrower; it
    registers with the owner at the next flush_borrower_registrations()."""
    global _last_owner
    if len(id) != 20:
        raise ValueError("corrupt ObjectRef in pickled data (id of %d bytes)" % len(id))
    cdef ObjectRef r = ObjectRef.__new__(ObjectRef)
    r._id = id
    r._owner = owner
    r._epoch = -1
    if _cw != NULL:
        r._epoch = _epoch
        if len(owner):
            if owner is not _last_owner and owner != _last_owner:
                _last_owner_addr.ParseFromString(owner)
                _last_owner = owner
            _cw.AddDeserializedRef(CObjectID.FromBinary(r._id), _last_owner_addr)
        else:
            _cw.AddLocalRef(CObjectID.FromBinary(r._id), NULL)
    return r


def flush_borrower_registrations():
    """Registers this process as a borrower of the refs just unpickled on this
    thread (blocks for the owners' answers). Call after each deserialization."""
    if _cw != NULL and CCoreWorker.HasPendingRegistrations():
        with nogil:
            _cw.FlushBorrowerRegistrations()


cdef ObjectRef _make_ref(const CObjectID& oid, bytes owner):
    cdef ObjectRef r = ObjectRef.__new__(ObjectRef)
    r._id = oid.Binary()
    r._owner = owner
    r._epoch = -1
    r._register()
    return r


def _set_ref_recorder(fn):
    global _ref_recorder
    _ref_recorder = fn


def object_id_for_return(bytes task_id, int index):
    """Binary id of the index-th return object (1-based) of a task."""
    return _pyb(CObjectID.FromIndex(CTaskID.FromBinary(task_id), index).Binary())
