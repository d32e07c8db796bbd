using System.Globalization;
using System.Security.Cryptography;
using Xunit.Abstractions;

namespace Jumpgate.TestSupport;

/// <summary>
/// Debian's BIND (named), started by a test in the foreground on a free loopback port, authoritative
/// for one zone the test names, whose A records all point at 127.0.0.1 and which takes dynamic
/// updates signed with a TSIG key it makes (HMAC-SHA256). Never the system's service; stopped by its PID.
/// </summary>
public sealed class BindServer : IAsyncDisposable
{
    public const string Binary = "/usr/sbin/named";
    public const string KeyName = "jumpgate-acme";

    private readonly TempDirectory _dir;
    private readonly ChildProcess _process;

    private BindServer(TempDirectory dir, ChildProcess process, int port, string zone)
    {
        _dir = dir;
        _process = process;
        Port = port;
        Zone = zone;
    }

    public int Port { get; }

    public string Zone { get; }

    /// <summary>BIND's own key file, as tsig-keygen writes it (mode 0600).</summary>
    public string KeyFile => _dir.File("acme.key");

    public static bool Installed => File.Exists(Binary);

    /// <summary>Starts named for <paramref name="zone"/>: every name in it (and the zone itself) resolves to 127.0.0.1.</summary>
    public static async Task<BindServer> StartAsync(string zone, ITestOutputHelper? output)
    {
        if (!Installed)
        {
            throw new InvalidOperationException($"{Binary} is missing: install Debian's bind9 (test.sh does)");
        }
        var dir = new TempDirectory("jg-bind");
        try
        {
            var secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
            var key = $$"""
                key "{{KeyName}}" {
                	algorithm hmac-sha256;
                	secret "{{secret}}";
                };

                """;
            await File.WriteAllTextAsync(dir.File("acme.key"), key);
            File.SetUnixFileMode(dir.File("acme.key"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
            await File.WriteAllTextAsync(dir.File("zone.db"), $"""
                $TTL 60
                @ IN SOA ns.{zone}. admin.{zone}. 1 60 60 600 60
                @ IN NS ns.{zone}.
                @ IN A 127.0.0.1
                * IN A 127.0.0.1

                """);
            var port = Sshd.FreePort();
            await File.WriteAllTextAsync(dir.File("named.conf"), $$"""
                options {
                	directory "{{dir.Path}}";
                	pid-file "{{dir.File("named.pid")}}";
                	session-keyfile "{{dir.File("session.key")}}";
                	listen-on port {{port.ToString(CultureInfo.InvariantCulture)}} { 127.0.0.1; };
                	listen-on-v6 { none; };
                	recursion no;
                	dnssec-validation no;
                	allow-query { any; };
                };
                controls { };
                {{key}}
                zone "{{zone}}" {
                	type primary;
                	file "{{dir.File("zone.db")}}";
                	allow-update { key "{{KeyName}}"; };
                };

                """);
            // -g: foreground, logging to stderr; as root it would otherwise switch to the bind user, who cannot write the test's folder.
            var process = ChildProcess.Start("named", Binary, ["-g", "-c", dir.File("named.conf"), "-n", "1"], output);
            var server = new BindServer(dir, process, port, zone);
            await process.WaitForLineAsync("running", Signals.Timeout(30));
            return server;
        }
        catch
        {
            dir.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.Exited.IsCompleted)
        {
            _process.Signal(ChildProcess.SIGTERM);
            await Task.WhenAny(_process.Exited, Task.Delay(TimeSpan.FromSeconds(10)));
        }
        await _process.DisposeAsync();
        _dir.Dispose();
    }
}
