using System.Text;
using Jumpgate.Core.Security;
using Jumpgate.TestSupport;
using Xunit;

namespace Jumpgate.Tests.Security;

/// <summary>The suite-wide leak check can fail: a planted token is found, with or without its prefix, in text and in binary.</summary>
public sealed class LeakScannerTests : IDisposable
{
    private readonly TempDirectory _run = new("jg-run");

    public void Dispose() => _run.Dispose();

    [Fact]
    public void FindsAnIssuedTokensSecretWhereverItWasWritten()
    {
        var leaked = TokenSecret.Create(PrincipalKind.User).ToString();
        var bareSecret = TokenSecret.Create(PrincipalKind.Admin).ToString();
        var innocent = TokenSecret.Create(PrincipalKind.Agent).ToString();
        var neverIssued = TokenSecret.Create(PrincipalKind.User).ToString();
        WriteHashes(leaked, bareSecret, innocent);
        Write("logs/1-gateway.log", $"listening\nrefused connection: token={leaked} was bad\n");
        Write("logs/2-cli.log", $"xx{bareSecret[^43..]}yy\n{neverIssued}\n");
        Write("files/3/gateway.db", [0, 1, 2, .. Encoding.ASCII.GetBytes(innocent[^20..]), 0xff]);
        Write("files/3/audit.jsonl", $"{{\"reason\":\"{bareSecret[..20]}\"}}\n");

        var report = LeakScanner.Scan(_run.Path);

        Assert.Equal(3, report.Tokens);
        Assert.Equal(4, report.Files);
        Assert.Equal(2, report.Findings.Count);
        Assert.Contains(report.Findings, f => f.File == Path.Combine("logs", "1-gateway.log") && f.Line == 2);
        Assert.Contains(report.Findings, f => f.File == Path.Combine("logs", "2-cli.log") && f.Line == 1);
    }

    [Fact]
    public void ACleanRunHasNoFindings()
    {
        var token = TokenSecret.Create(PrincipalKind.User).ToString();
        WriteHashes(token);
        Write("logs/1-gateway.log", $"stream researcher -> node1:ssh opened; fingerprint SHA256:{new string('A', 43)}\n");

        Assert.Empty(LeakScanner.Scan(_run.Path).Findings);
    }

    private void WriteHashes(params string[] tokens) =>
        Write("tokens/1.sha256", string.Join('\n', tokens.Select(t => RunLog.HashOfSecret(t[^LeakScanner.SecretLength..]))) + "\n");

    private void Write(string relative, string text) => Write(relative, Encoding.UTF8.GetBytes(text));

    private void Write(string relative, byte[] bytes)
    {
        var path = Path.Combine(_run.Path, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
    }
}
