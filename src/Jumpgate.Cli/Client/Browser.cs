using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Jumpgate.Core.Security;

namespace Jumpgate.Cli.Client;

/// <summary>
/// Opens a one-time sign-in link in the user's browser without putting it in any process's
/// argv: on a shared login node every user sees argv (ps, /proc/PID/cmdline), and the link's
/// code signs in whoever uses it first. The opener gets the path of a page only the user can
/// read (0600 in a fresh 0700 folder); the page sends the browser to a one-shot redirect on
/// 127.0.0.1 at a random 256-bit path, which answers with the link once. The redirect is what
/// tells us the browser got there, so the page is deleted then, not after a guessed delay.
/// Other users can reach the port but not the path, which is in the page alone.
/// </summary>
internal sealed class Browser : IAsyncDisposable
{
    /// <summary>How long to wait for the browser: a browser that has not loaded a local page in a minute is not coming.</summary>
    public static readonly TimeSpan LoadTimeout = TimeSpan.FromMinutes(1);

    /// <summary>How long one local connection may take to send its request line (browsers preconnect sockets they may never use).</summary>
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    /// <summary>A request line longer than this is not our browser's GET.</summary>
    private const int MaxRequestHead = 8192;

    private readonly TcpListener _listener;
    private readonly byte[] _path;
    private readonly string _folder;
    private readonly string _location;
    private int _answered;

    private Browser(Uri link)
    {
        _location = link.AbsoluteUri;
        _path = Encoding.ASCII.GetBytes("/" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_'));
        _folder = CreatePrivateFolder();
        Page = Path.Combine(_folder, "open.html");
        _listener = new TcpListener(IPAddress.Loopback, 0);
        try
        {
            _listener.Start();
            WritePage($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}{Encoding.ASCII.GetString(_path)}");
        }
        catch
        {
            _listener.Stop();
            Directory.Delete(_folder, recursive: true);
            throw;
        }
    }

    private void WritePage(string local)
    {
        // The local address holds only [A-Za-z0-9:/._-], so it needs no HTML escaping.
        using var writer = new StreamWriter(PrivateFile.CreateNew(Page));
        writer.Write($"""
            <!doctype html>
            <meta charset="utf-8">
            <meta name="referrer" content="no-referrer">
            <meta http-equiv="refresh" content="0;url={local}">
            <title>Jumpgate sign-in</title>
            <p><a href="{local}">Continue to the sign-in</a></p>

            """);
    }

    /// <summary>The page the opener gets: its path is all any argv holds.</summary>
    public string Page { get; }

    /// <summary>
    /// Opens <paramref name="signInUrl"/> in the browser and returns once the browser has followed
    /// it; throws when the opener fails or no browser came within <see cref="LoadTimeout"/>.
    /// </summary>
    public static async Task OpenAsync(string signInUrl, CancellationToken cancellationToken)
    {
        // A local forward (jumpgate jupyter) is plain http on loopback; anything else must be https.
        if (!Uri.TryCreate(signInUrl, UriKind.Absolute, out var link) || (link.Scheme != Uri.UriSchemeHttps && !(link.Scheme == Uri.UriSchemeHttp && link.IsLoopback)))
        {
            throw new CliException("the gateway's sign-in link is not an https:// address; not opening it");
        }
        await using var browser = new Browser(link);
        using var opener = Launch(browser.Page);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(LoadTimeout);
        var served = browser.ServeOnceAsync(timeout.Token);
        var failed = OpenerFailedAsync(opener, timeout.Token);
        await Task.WhenAny(served, failed);
        var exitCode = failed.IsCompleted ? await failed : null;
        await timeout.CancelAsync();
        var followed = await served;
        await failed;
        if (followed)
        {
            return;
        }
        if (exitCode is { } code)
        {
            throw new CliException($"{opener.StartInfo.FileName} failed (exit {code}); open the link above by hand");
        }
        cancellationToken.ThrowIfCancellationRequested();
        throw new CliException($"no browser loaded the link within {LoadTimeout.TotalSeconds:0} s; open the link above by hand");
    }

    private static Process Launch(string page)
    {
        var opener = OperatingSystem.IsMacOS() ? "open" : "xdg-open";
        try
        {
            // The page's path goes as an argument, never through a shell; it holds no secret.
            return Process.Start(new ProcessStartInfo(opener) { ArgumentList = { page }, UseShellExecute = false })!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new CliException($"could not start {opener} to open the browser ({e.Message}); open the link above by hand");
        }
    }

    /// <summary>The opener's exit code when it failed; null when it succeeded or is still running (it may run as long as the browser).</summary>
    private static async Task<int?> OpenerFailedAsync(Process opener, CancellationToken cancellationToken)
    {
        try
        {
            await opener.WaitForExitAsync(cancellationToken);
            if (opener.ExitCode != 0)
            {
                return opener.ExitCode;
            }
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Served, timed out or Ctrl-C: the opener is the browser's business from here.
        }
        return null;
    }

    /// <summary>Answers local connections until one asks for the random path; true when it did, false when cancelled.</summary>
    private async Task<bool> ServeOnceAsync(CancellationToken cancellationToken)
    {
        var followed = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var _ = stop.Token.Register(() => followed.TrySetResult(false));
        var connections = new List<Task>();
        var accept = Task.FromResult<Socket?>(null);
        while (!followed.Task.IsCompleted)
        {
            accept = AcceptAsync(stop.Token);
            if (await Task.WhenAny(accept, followed.Task) != accept || await accept is not { } socket)
            {
                break;
            }
            // Each connection on its own: one that sends nothing must not hold up the browser's.
            connections.Add(AnswerAsync(socket, followed, stop.Token));
            connections.RemoveAll(c => c.IsCompleted);
        }
        await stop.CancelAsync();
        (await accept)?.Dispose();
        await Task.WhenAll(connections);
        return await followed.Task;
    }

    /// <summary>The next local connection, or null once <paramref name="cancellationToken"/> fires (timed out, Ctrl-C, or served).</summary>
    private async Task<Socket?> AcceptAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _listener.AcceptSocketAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    private async Task AnswerAsync(Socket socket, TaskCompletionSource<bool> followed, CancellationToken cancellationToken)
    {
        using var _ = socket;
        await using var stream = new NetworkStream(socket);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RequestTimeout);
        try
        {
            var target = await ReadRequestTargetAsync(stream, timeout.Token);
            // Constant time: a local user probing the port learns nothing about the path from the timing. Answered once.
            var ours = target is not null && CryptographicOperations.FixedTimeEquals(target, _path) && Interlocked.Exchange(ref _answered, 1) == 0;
            var response = ours
                ? $"HTTP/1.1 303 See Other\r\nLocation: {_location}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                : "HTTP/1.1 404 Not Found\r\nCache-Control: no-store\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            // Not cancelled when another connection ends the wait: the redirect must reach the browser whole.
            using var write = new CancellationTokenSource(RequestTimeout);
            await stream.WriteAsync(Encoding.ASCII.GetBytes(response), write.Token);
            if (ours)
            {
                followed.TrySetResult(true);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
        {
            // A connection that went away or sent nothing in time: not the browser we are waiting for.
        }
    }

    /// <summary>The request target of a GET (its path), or null for anything else; reads the request head only.</summary>
    private static async Task<byte[]?> ReadRequestTargetAsync(Stream stream, CancellationToken cancellationToken)
    {
        var head = new byte[MaxRequestHead];
        var length = 0;
        while (length < head.Length)
        {
            var read = await stream.ReadAsync(head.AsMemory(length), cancellationToken);
            if (read == 0)
            {
                return null;
            }
            length += read;
            if (head.AsSpan(0, length).IndexOf("\r\n\r\n"u8) >= 0)
            {
                break;
            }
        }
        var line = head.AsSpan(0, length);
        var end = line.IndexOf("\r\n"u8);
        if (end < 0 || !line.StartsWith("GET "u8))
        {
            return null;
        }
        line = line[4..end];
        var space = line.IndexOf((byte)' ');
        return space < 0 ? null : line[..space].ToArray();
    }

    /// <summary>A fresh folder only the user can enter: under $XDG_RUNTIME_DIR (the user's own, in memory) or else the temp folder.</summary>
    private static string CreatePrivateFolder()
    {
        var runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        var root = !string.IsNullOrEmpty(runtime) && Directory.Exists(runtime) ? runtime : Path.GetTempPath();
        var folder = Path.Combine(root, "jumpgate-open-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)));
        // CreateDirectory succeeds on an existing folder; a random name another user cannot have made first, checked after.
        Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var mode = File.GetUnixFileMode(folder);
        if (mode != (UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute))
        {
            throw new CliException($"{folder} has mode {PrivateFile.Octal(mode)}, not 0700; not writing the sign-in page there");
        }
        return folder;
    }

    public ValueTask DisposeAsync()
    {
        _listener.Stop();
        Directory.Delete(_folder, recursive: true);
        return ValueTask.CompletedTask;
    }
}
