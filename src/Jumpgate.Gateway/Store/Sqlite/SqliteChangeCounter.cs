using System.IO.MemoryMappedFiles;
using Jumpgate.Core.Security;

namespace Jumpgate.Gateway.Store.Sqlite;

/// <summary>
/// A counter that every Jumpgate process writing the store moves after each committed write, in a
/// small file beside it (<c>gateway.db-changes</c>, mode 0600) that each process maps into memory:
/// the gateway and an admin command run side by side see the same eight bytes. Reading it is a
/// memory load where reading the generation's row is a SQLite read transaction (file locks, about
/// a fifth of the CPU an HTTP request costs), so the generation is read again only when this moved.
/// </summary>
internal sealed unsafe class SqliteChangeCounter : IDisposable
{
    private const long Size = sizeof(long);

    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly long* _counter;

    public SqliteChangeCounter(string databasePath)
    {
        Path = databasePath + "-changes";
        // Open or create, never truncate: another process may hold the file mapped. A file shorter
        // than the counter (just created) is extended with zeros by the mapping.
        var stream = new FileStream(Path, new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.ReadWrite,
            Share = FileShare.ReadWrite,
            UnixCreateMode = PrivateFile.OwnerOnly,
        });
        try
        {
            _file = MemoryMappedFile.CreateFromFile(stream, null, Math.Max(Size, stream.Length), MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        _view = _file.CreateViewAccessor(0, Size, MemoryMappedFileAccess.ReadWrite);
        byte* start = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
        _counter = (long*)(start + _view.PointerOffset);
    }

    public string Path { get; }

    /// <summary>The count now, as the last write of any process left it.</summary>
    public long Read()
    {
        // Each use holds the mapping, so a store disposed during a request unmaps it only after that request's read.
        var handle = _view.SafeMemoryMappedViewHandle;
        var held = false;
        handle.DangerousAddRef(ref held);
        try
        {
            return Volatile.Read(ref *_counter);
        }
        finally
        {
            handle.DangerousRelease();
        }
    }

    /// <summary>
    /// Counts a committed write. Atomic across processes (one locked instruction on the shared
    /// page), so two writers at once never leave the count where one of them found it.
    /// </summary>
    public void Moved()
    {
        var handle = _view.SafeMemoryMappedViewHandle;
        var held = false;
        handle.DangerousAddRef(ref held);
        try
        {
            Interlocked.Increment(ref *_counter);
        }
        finally
        {
            handle.DangerousRelease();
        }
    }

    /// <summary>Unmaps the counter once no read or count is under way (each holds the mapping while it runs).</summary>
    public void Dispose()
    {
        _view.Dispose();
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _file.Dispose();
    }
}
