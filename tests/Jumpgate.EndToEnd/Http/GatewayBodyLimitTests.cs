using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Http;

/// <summary>
/// Issue 22 item 1: anyone, without an account, may post to the sign-in form, and an admin to
/// the JSON API; neither may make the gateway hold what they send. Bodies of
/// <see cref="AttackBytes"/> each, <see cref="Parallel"/> of every kind at once, <see cref="Rounds"/> times (URL-encoded with
/// a length and chunked, as the attack that took the gateway to 2.13 GB sent them; multipart,
/// which used to be buffered to /tmp/ASPNETCORE_*.tmp; JSON to the admin API), from their own
/// address, bounded in count and in <see cref="Budget"/>. A signed-in user's requests through
/// the service keep being answered meanwhile, and uploads to the service larger than the
/// gateway's own limit still pass whole.
/// </summary>
public sealed class GatewayBodyLimitTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const long AttackBytes = 64L << 20;

    private const int Parallel = 4;

    /// <summary>Each connection's attack, one after another: long enough for the user's requests meanwhile to mean something.</summary>
    private const int Rounds = 3;

    /// <summary>The most the gateway's resident memory may grow, at the peak and 20 s later (the issue's goal).</summary>
    private const long GrowthLimitKiB = 64 * 1024;

    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(120);

    private static readonly TimeSpan Aftermath = TimeSpan.FromSeconds(20);

    private static readonly IPAddress Attacker = IPAddress.Parse("127.0.0.7");

    private HttpFixture _fixture = null!;

    private GatewayBrowser Browser => _fixture.Browser;

    public async Task InitializeAsync() => _fixture = await HttpFixture.StartAsync(output);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    [Fact]
    public async Task HugeSignInFormsAndApiBodiesAreRefusedEarlyWithoutFillingMemoryOrDiskWhileAServiceKeepsAnswering()
    {
        await _fixture.SignInAsync();
        var admin = await _fixture.Deployment.JumpgateAsync("gateway", "add-admin", "root", "--dir", _fixture.Deployment.GatewayDir);
        Assert.Equal(0, admin.ExitCode);
        var adminToken = admin.Stdout.Trim();
        _fixture.Deployment.Tokens.Add(adminToken);
        // A second browser of the same user uploads meanwhile, on its own connection, so the requests timed below wait on the gateway alone.
        using var uploader = new GatewayBrowser(_fixture.Deployment.GatewayUrl, _fixture.Deployment.Fingerprint);
        var (signedIn, _) = await uploader.FollowAsync(await _fixture.OpenLinkAsync());
        signedIn.Dispose();
        var gateway = _fixture.Deployment.Gateway!.Id;
        // Warm: the first requests load code, which is not what this test measures.
        await ServiceRoundTripAsync("warm");
        var quiet = new List<double>();
        for (var i = 0; i < 10; i++)
        {
            quiet.Add(await ServiceRoundTripAsync($"quiet-{i}"));
        }
        quiet.Sort();
        var before = ProcessMemory.ResidentKiB(gateway);
        var peakReset = ProcessMemory.TryResetPeak(gateway);
        using var budget = new CancellationTokenSource(Budget);

        var sampling = new CancellationTokenSource();
        var sampler = SampleAsync(gateway, sampling.Token);
        var attack = Stopwatch.StartNew();
        var attacks = Enumerable.Range(0, Parallel).SelectMany(i => new[]
        {
            RoundsAsync(() => PostAsync("urlencoded", "/signin", "application/x-www-form-urlencoded", null, UrlEncodedBody(i), chunked: false, budget.Token)),
            RoundsAsync(() => PostAsync("urlencoded, chunked", "/signin", "application/x-www-form-urlencoded", null, UrlEncodedBody(i), chunked: true, budget.Token)),
            RoundsAsync(() => PostAsync("multipart", "/signin", "multipart/form-data; boundary=jumpgate-boundary", null, MultipartBody(), chunked: false, budget.Token)),
            RoundsAsync(() => PostAsync("admin JSON, chunked", "/api/v1/admin/users", "application/json", adminToken, JsonBody(), chunked: true, budget.Token)),
        }).ToList();
        var latencies = new List<double>();
        var served = ServeMeanwhileAsync(Task.WhenAll(attacks), latencies, budget.Token);
        // Meanwhile too: uploads to the service larger than the gateway's own 64 KiB limit still pass whole, with a length and without.
        var uploads = Task.WhenAll(UploadAsync(uploader, 1L << 20, chunked: false), UploadAsync(uploader, 8L << 20, chunked: true));
        var results = (await Task.WhenAll(attacks)).SelectMany(rounds => rounds).ToList();
        var attackSeconds = attack.Elapsed.TotalSeconds;
        await served;
        await uploads;
        await sampling.CancelAsync();
        var (sampledPeak, tempFiles) = await sampler;

        var settled = Stopwatch.StartNew();
        long after;
        do
        {
            after = ProcessMemory.ResidentKiB(gateway);
            await Task.Delay(TimeSpan.FromMilliseconds(500), CancellationToken.None);
        }
        while (settled.Elapsed < Aftermath);
        // The kernel's mark covers the attack and what followed it; the samples, where it could not be reset, the attack.
        var peak = peakReset ? Math.Max(sampledPeak, ProcessMemory.PeakKiB(gateway)) : sampledPeak;

        foreach (var result in results.DistinctBy(r => (r.Kind, r.StatusLine)))
        {
            output.WriteLine($"{result.Kind}: answered \"{result.StatusLine}\" after {result.SentBytes / 1024} KiB of {AttackBytes >> 20} MiB sent");
        }
        output.WriteLine($"{results.Count} attacks ({Parallel} connections of each kind at a time, {Rounds} rounds, {AttackBytes >> 20} MiB each) from {Attacker} in {attackSeconds:0.0} s");
        output.WriteLine($"gateway resident memory: before {before / 1024} MiB, peak {peak / 1024} MiB ({(peakReset ? "VmHWM reset before the attack" : "sampled every 50 ms")}), {Aftermath.TotalSeconds:0} s after {after / 1024} MiB");
        output.WriteLine($"gateway's open ASPNETCORE_*.tmp files during the attack: at most {tempFiles}");
        var sorted = latencies.Order().ToList();
        output.WriteLine($"the signed-in user's {quiet.Count} requests through the service before the attack: p50 {Percentile(quiet, 0.5):0.0} ms, max {quiet[^1]:0.0} ms");
        output.WriteLine($"the signed-in user's {sorted.Count} requests through the service meanwhile: p50 {Percentile(sorted, 0.5):0.0} ms, max {sorted.LastOrDefault():0.0} ms");

        Assert.True(peak - before < GrowthLimitKiB, $"the gateway's resident memory grew by {(peak - before) / 1024} MiB under the attack");
        Assert.True(after - before < GrowthLimitKiB, $"the gateway's resident memory was still {(after - before) / 1024} MiB above its start {Aftermath.TotalSeconds:0} s after the attack");
        Assert.True(tempFiles == 0, $"the gateway buffered request bodies to {tempFiles} ASPNETCORE_*.tmp files at once");
        foreach (var result in results)
        {
            // Too large (the forms and the JSON), or not a form the sign-in takes (multipart): refused, and nothing else.
            var expected = result.Kind == "multipart" ? "HTTP/1.1 415" : "HTTP/1.1 413";
            Assert.True(result.StatusLine.StartsWith(expected, StringComparison.Ordinal), $"{result.Kind}: answered \"{result.StatusLine}\", not {expected}");
        }
        Assert.NotEmpty(latencies);
        Assert.True(sorted[^1] < 5000, $"a signed-in user's request through the service took {sorted[^1]:0} ms during the attack");
        Assert.False(_fixture.Deployment.Gateway.Exited.IsCompleted, "the gateway exited");
    }

    private static async Task<List<AttackResult>> RoundsAsync(Func<Task<AttackResult>> attack)
    {
        var results = new List<AttackResult>();
        for (var round = 0; round < Rounds; round++)
        {
            try
            {
                results.Add(await attack());
            }
            catch (OperationCanceledException)
            {
                // The budget is spent with the gateway still taking a body in: that is the result, and the asserts say so.
                results.Add(new AttackResult("(budget)", "(no answer within the budget)", -1));
                break;
            }
        }
        return results;
    }

    private sealed record AttackResult(string Kind, string StatusLine, long SentBytes);

    /// <summary>
    /// One oversized POST over its own TLS connection from <see cref="Attacker"/>, as HTTP/1.1 so nothing in a client library
    /// reshapes it: the body goes out in 64 KiB pieces until all of it is sent, the gateway answers, or the connection breaks.
    /// </summary>
    private async Task<AttackResult> PostAsync(string kind, string path, string contentType, string? bearer, IEnumerable<ReadOnlyMemory<byte>> body, bool chunked, CancellationToken cancellationToken)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(Attacker, 0));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Browser.Port), cancellationToken);
        await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false), false, (_, _, _, _) => true);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost", ApplicationProtocols = [SslApplicationProtocol.Http11] }, cancellationToken);
        var head = $"POST {path} HTTP/1.1\r\nHost: localhost:{Browser.Port}\r\nContent-Type: {contentType}\r\n"
            + (bearer is null ? "" : $"Authorization: Bearer {bearer}\r\n")
            + (chunked ? "Transfer-Encoding: chunked\r\n" : $"Content-Length: {AttackBytes}\r\n") + "\r\n";
        await tls.WriteAsync(Encoding.ASCII.GetBytes(head), cancellationToken);
        var answer = ReadStatusLineAsync(tls, cancellationToken);
        long sent = 0;
        try
        {
            foreach (var piece in body)
            {
                if (answer.IsCompleted)
                {
                    break;
                }
                if (chunked)
                {
                    await tls.WriteAsync(Encoding.ASCII.GetBytes($"{piece.Length:x}\r\n"), cancellationToken);
                }
                await tls.WriteAsync(piece, cancellationToken);
                if (chunked)
                {
                    await tls.WriteAsync("\r\n"u8.ToArray(), cancellationToken);
                }
                sent += piece.Length;
            }
            if (chunked && !answer.IsCompleted)
            {
                await tls.WriteAsync("0\r\n\r\n"u8.ToArray(), cancellationToken);
            }
        }
        catch (IOException)
        {
            // The gateway closed the connection on a body it refused; its answer (read below) is what counts.
        }
        return new AttackResult(kind, await answer, sent);
    }

    /// <summary>The response's status line, or what the connection said instead.</summary>
    private static async Task<string> ReadStatusLineAsync(Stream stream, CancellationToken cancellationToken)
    {
        var received = new List<byte>();
        var buffer = new byte[4096];
        try
        {
            while (received.Count < 64 * 1024)
            {
                var read = await stream.ReadAsync(buffer, cancellationToken);
                if (read == 0)
                {
                    break;
                }
                received.AddRange(buffer.AsSpan(0, read));
                var text = Encoding.ASCII.GetString([.. received]);
                if (text.Contains("\r\n", StringComparison.Ordinal))
                {
                    return text[..text.IndexOf("\r\n", StringComparison.Ordinal)];
                }
            }
            return received.Count == 0 ? "(closed without an answer)" : Encoding.ASCII.GetString([.. received]);
        }
        catch (IOException e)
        {
            return $"(connection broke without an answer: {e.Message})";
        }
        catch (OperationCanceledException)
        {
            return "(no answer within the budget)";
        }
    }

    /// <summary>The attack's form: 4 MB values (the most ASP.NET's form reader took per value), a token that is no token.</summary>
    private static IEnumerable<ReadOnlyMemory<byte>> UrlEncodedBody(int seed)
    {
        const int value = 4_000_000;
        var filler = new byte[64 * 1024];
        Array.Fill(filler, (byte)'a');
        long sent = 0;
        var field = 0;
        var next = 0L;
        while (sent < AttackBytes)
        {
            if (sent >= next)
            {
                var separator = Encoding.ASCII.GetBytes(field == 0 ? $"token=jgu_{seed}&v0=" : $"&v{field}=");
                field++;
                next = sent + value;
                sent += separator.Length;
                yield return separator;
                continue;
            }
            var length = (int)Math.Min(Math.Min(filler.Length, next - sent), AttackBytes - sent);
            sent += length;
            yield return filler.AsMemory(0, length);
        }
    }

    private static IEnumerable<ReadOnlyMemory<byte>> MultipartBody()
    {
        var head = Encoding.ASCII.GetBytes("--jumpgate-boundary\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nnot-a-token\r\n"
            + "--jumpgate-boundary\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n");
        var tail = Encoding.ASCII.GetBytes("\r\n--jumpgate-boundary--\r\n");
        return Framed(head, (byte)'m', tail);
    }

    private static IEnumerable<ReadOnlyMemory<byte>> JsonBody() =>
        Framed(Encoding.ASCII.GetBytes("{\"name\":\""), (byte)'j', Encoding.ASCII.GetBytes("\"}"));

    /// <summary><paramref name="head"/>, filler, <paramref name="tail"/>: <see cref="AttackBytes"/> in all.</summary>
    private static IEnumerable<ReadOnlyMemory<byte>> Framed(byte[] head, byte fill, byte[] tail)
    {
        var filler = new byte[64 * 1024];
        Array.Fill(filler, fill);
        yield return head;
        var left = AttackBytes - head.Length - tail.Length;
        while (left > 0)
        {
            var length = (int)Math.Min(filler.Length, left);
            left -= length;
            yield return filler.AsMemory(0, length);
        }
        yield return tail;
    }

    /// <summary>The signed-in user's requests through the service until the attack is over (at most 2,000), each timed.</summary>
    private async Task ServeMeanwhileAsync(Task attack, List<double> latencies, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 2000 && !attack.IsCompleted && !cancellationToken.IsCancellationRequested; i++)
        {
            latencies.Add(await ServiceRoundTripAsync($"meanwhile-{i}"));
        }
    }

    private async Task<double> ServiceRoundTripAsync(string marker)
    {
        var clock = Stopwatch.StartNew();
        using var response = await Browser.Client.GetAsync(Browser.ServiceUri(HttpFixture.Label, $"/headers?{marker}"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return clock.Elapsed.TotalMilliseconds;
    }

    /// <summary>An upload through the service; without a length it goes as HTTP/2 DATA frames with no declared size (chunked, in HTTP/1.1 terms).</summary>
    private async Task UploadAsync(GatewayBrowser browser, long size, bool chunked)
    {
        using var content = new StreamContent(new DeterministicStream(size, seed: 21));
        if (!chunked)
        {
            content.Headers.ContentLength = size;
        }
        using var put = new HttpRequestMessage(HttpMethod.Put, browser.ServiceUri(HttpFixture.Label, "/upload")) { Content = content };
        using var uploaded = await browser.Client.SendAsync(put);
        var answer = await uploaded.Content.ReadAsStringAsync();
        Assert.True(uploaded.IsSuccessStatusCode, $"an upload of {size >> 20} MiB ({(chunked ? "chunked" : "with a length")}) got {(int)uploaded.StatusCode}: {answer}");
        var (bytes, sha256) = HttpUpstream.ParseUploadResult(answer);
        Assert.Equal(size, bytes);
        Assert.Equal(DeterministicBytes.Sha256(size, seed: 21), sha256);
        output.WriteLine($"a {size >> 20} MiB upload to the service ({(chunked ? "chunked" : "with a length")}) passed whole");
    }

    /// <summary>Until cancelled: the highest resident memory seen, and the most ASPNETCORE_*.tmp files the gateway held open at once.</summary>
    private static async Task<(long PeakKiB, int TempFiles)> SampleAsync(int pid, CancellationToken cancellationToken)
    {
        long peak = 0;
        var files = 0;
        while (true)
        {
            peak = Math.Max(peak, ProcessMemory.ResidentKiB(pid));
            files = Math.Max(files, OpenTempFiles(pid));
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return (peak, files);
            }
        }
    }

    /// <summary>The request bodies ASP.NET buffers to disk live in ASPNETCORE_*.tmp files, deleted on close: count those the gateway holds.</summary>
    private static int OpenTempFiles(int pid)
    {
        var count = 0;
        foreach (var fd in Directory.EnumerateFiles($"/proc/{pid}/fd"))
        {
            try
            {
                if (File.ResolveLinkTarget(fd, returnFinalTarget: false)?.FullName.Contains("ASPNETCORE_", StringComparison.Ordinal) == true)
                {
                    count++;
                }
            }
            catch (IOException)
            {
                // Closed between the listing and the look: not held any more.
            }
        }
        return count;
    }

    private static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? 0 : sorted[(int)Math.Min(sorted.Count - 1, sorted.Count * p)];
}
