namespace Jumpgate.Gateway.Audit;

/// <summary>
/// audit.jsonl next to gateway.yaml, rotated by size: when a line would take the file past
/// <see cref="MaxBytes"/>, audit.jsonl becomes audit.1.jsonl (audit.1 becomes audit.2, …) and the
/// oldest beyond <see cref="Keep"/> is deleted, as logrotate's size/rotate do. Owner-only (0600).
/// Not thread-safe: the audit log's one writer task owns it.
/// </summary>
internal sealed class AuditFile(string path, long maxBytes = AuditFile.DefaultMaxBytes, int keep = AuditFile.DefaultKeep) : IDisposable
{
    /// <summary>64 MiB: a year of a small lab's streams, and still quick to grep.</summary>
    public const long DefaultMaxBytes = 64L * 1024 * 1024;

    /// <summary>Five rotated files besides the current one.</summary>
    public const int DefaultKeep = 5;

    private FileStream? _stream;
    private long _length;

    public string Path { get; } = path;

    public long MaxBytes { get; } = maxBytes;

    public int Keep { get; } = keep;

    public static string Rotated(string path, int index) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path) ?? ".", $"{System.IO.Path.GetFileNameWithoutExtension(path)}.{index}{System.IO.Path.GetExtension(path)}");

    /// <summary>
    /// Appends one line and its newline, rotating first if together they would not fit, so a line
    /// never straddles two files. The size is tracked here: asking the file (an fstat) for every
    /// line was two system calls per audit event.
    /// </summary>
    public void AppendLine(ReadOnlySpan<byte> line)
    {
        var stream = _stream ??= OpenAppend();
        if (_length > 0 && _length + line.Length + 1 > MaxBytes)
        {
            Rotate();
            stream = _stream = OpenAppend();
        }
        stream.Write(line);
        stream.WriteByte((byte)'\n');
        _length += line.Length + 1;
    }

    public void Flush() => _stream?.Flush(flushToDisk: false);

    private void Rotate()
    {
        _stream?.Dispose();
        _stream = null;
        File.Delete(Rotated(Path, Keep));
        for (var index = Keep - 1; index >= 1; index--)
        {
            var from = Rotated(Path, index);
            if (File.Exists(from))
            {
                File.Move(from, Rotated(Path, index + 1), overwrite: true);
            }
        }
        File.Move(Path, Rotated(Path, 1), overwrite: true);
    }

    private FileStream OpenAppend()
    {
        var stream = new FileStream(Path, new FileStreamOptions
        {
            Mode = FileMode.Append,
            Access = FileAccess.Write,
            Share = FileShare.Read,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        _length = stream.Length;
        return stream;
    }

    public void Dispose() => _stream?.Dispose();
}
