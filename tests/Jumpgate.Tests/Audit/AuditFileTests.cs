using System.Text;
using Jumpgate.Gateway.Audit;
using Jumpgate.TestSupport;
using Xunit;

namespace Jumpgate.Tests.Audit;

/// <summary>audit.jsonl rotates by size and keeps a bounded number of old files.</summary>
public sealed class AuditFileTests : IDisposable
{
    private readonly TempDirectory _directory = new("jg-audit");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void RotatesWhenALineWouldPassTheSizeAndKeepsOnlyTheNewestFiles()
    {
        var path = _directory.File("audit.jsonl");
        using (var file = new AuditFile(path, maxBytes: 100, keep: 2))
        {
            // 40-byte lines: two fit in 100 bytes, the third rotates.
            for (var i = 0; i < 10; i++)
            {
                file.AppendLine(Encoding.ASCII.GetBytes($"{{\"n\":{i:D2}}}".PadRight(39)));
            }
        }

        Assert.Equal(["audit.1.jsonl", "audit.2.jsonl", "audit.jsonl"], Directory.GetFiles(_directory.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.StartsWith("{\"n\":08}", File.ReadAllText(path));
        Assert.StartsWith("{\"n\":06}", File.ReadAllText(AuditFile.Rotated(path, 1)));
        Assert.StartsWith("{\"n\":04}", File.ReadAllText(AuditFile.Rotated(path, 2)));
        Assert.All(Directory.GetFiles(_directory.Path), f => Assert.True(new FileInfo(f).Length <= 100));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    [Fact]
    public void ALineAndItsNewlineStayInOneFileAndAReopenedFileCountsWhatItHeld()
    {
        var path = _directory.File("audit.jsonl");
        // 49 bytes and a newline: two lines are exactly 100 bytes, so only the third rotates.
        var line = Encoding.ASCII.GetBytes(new string('x', 49));
        using (var file = new AuditFile(path, maxBytes: 100, keep: 3))
        {
            file.AppendLine(line);
        }
        // A gateway restarted on the same file knows it holds 50 bytes already.
        using (var file = new AuditFile(path, maxBytes: 100, keep: 3))
        {
            file.AppendLine(line);
            file.AppendLine(line);
        }

        Assert.Equal(50, new FileInfo(path).Length);
        Assert.Equal(100, new FileInfo(AuditFile.Rotated(path, 1)).Length);
        Assert.All(Directory.GetFiles(_directory.Path), f => Assert.All(File.ReadAllText(f).Split('\n', StringSplitOptions.RemoveEmptyEntries), l => Assert.Equal(49, l.Length)));
        Assert.All(Directory.GetFiles(_directory.Path), f => Assert.EndsWith("\n", File.ReadAllText(f)));
    }
}
