using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Peers;

/// <summary>
/// Throw-away nginx instances on loopback for the HTTP figure: an upstream serving a small page,
/// and a reverse proxy in front of it (keep-alive to the upstream, as one would configure it),
/// which also listens with TLS 1.3 and AES-128-GCM on an ECDSA P-256 certificate, as the gateway
/// does. Where nginx's stream module is installed, a third instance plays the agent (TLS in, plain
/// TCP out to the upstream), so that the proxy can be measured in Jumpgate's own shape.
/// </summary>
internal sealed class Nginx : IAsyncDisposable
{
    /// <summary>The small page: what a Jupyter or TensorBoard API call returns, give or take.</summary>
    public const string Page = "<!doctype html><title>jumpgate bench</title><p>hello from the upstream</p>\n";

    private readonly TempDirectory _dir = new("jg-bench-nginx");
    private readonly List<ChildProcess> _processes = [];
    private readonly Dictionary<string, ChildProcess> _instances = [];

    public int UpstreamPort { get; private set; }
    public int ProxyPort { get; private set; }

    /// <summary>The same reverse proxy over HTTPS: what TLS termination costs nginx, beside what it costs the gateway.</summary>
    public int TlsProxyPort { get; private set; }

    /// <summary>
    /// The HTTPS proxy forwarding over TLS (keep-alive) to a relay in a process of its own, which
    /// splices each connection to the upstream: the gateway and the agent, built of nginx. 0 where the stream module is missing.
    /// </summary>
    public int ShapePort { get; private set; }

    public static string? Executable => File.Exists("/usr/sbin/nginx") ? "/usr/sbin/nginx" : null;

    /// <summary>Debian's libnginx-mod-stream: nginx as a TCP relay with TLS, as the agent is one.</summary>
    private const string StreamModule = "/usr/lib/nginx/modules/ngx_stream_module.so";

    public static async Task<Nginx> StartAsync()
    {
        var nginx = new Nginx();
        try
        {
            nginx.UpstreamPort = Ports.Free();
            await nginx.StartInstanceAsync("upstream", $$"""
                server {
                    listen 127.0.0.1:{{nginx.UpstreamPort}} backlog=4096;
                    location / {
                        default_type text/html;
                        return 200 '{{Page.TrimEnd('\n')}}';
                    }
                }
                """, nginx.UpstreamPort);
            nginx.ProxyPort = Ports.Free();
            nginx.TlsProxyPort = Ports.Free();
            var (certificate, key) = nginx.WriteCertificate();
            var tls = $"""
                    ssl_certificate {certificate};
                    ssl_certificate_key {key};
                    ssl_protocols TLSv1.3;
                    ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;
                """;
            static string Proxy(string upstream, string extra = "") => $$"""
                    location / {
                        proxy_pass {{upstream}};
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_set_header Host $host;
                {{extra}}
                    }
                """;
            var shape = "";
            if (File.Exists(StreamModule))
            {
                var relayPort = Ports.Free();
                nginx.ShapePort = Ports.Free();
                await nginx.StartInstanceAsync("relay", $$"""
                    stream {
                        server {
                            listen 127.0.0.1:{{relayPort}} ssl backlog=4096;
                        {{tls}}
                            proxy_pass 127.0.0.1:{{nginx.UpstreamPort}};
                        }
                    }
                    """, relayPort, http: false);
                // nginx 1.22 offers an https upstream at most TLS 1.2 unless told otherwise; the relay takes only TLS 1.3.
                shape = $$"""
                    upstream relay {
                        server 127.0.0.1:{{relayPort}};
                        keepalive 64;
                    }
                    server {
                        listen 127.0.0.1:{{nginx.ShapePort}} ssl backlog=4096;
                    {{tls}}
                    {{Proxy("https://relay", "        proxy_ssl_protocols TLSv1.3;\n        proxy_ssl_session_reuse on;\n        proxy_ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;")}}
                    }
                    """;
            }
            await nginx.StartInstanceAsync("proxy", $$"""
                upstream app {
                    server 127.0.0.1:{{nginx.UpstreamPort}};
                    keepalive 64;
                }
                server {
                    listen 127.0.0.1:{{nginx.ProxyPort}} backlog=4096;
                {{Proxy("http://app")}}
                }
                server {
                    listen 127.0.0.1:{{nginx.TlsProxyPort}} ssl backlog=4096;
                {{tls}}
                {{Proxy("http://app")}}
                }
                {{shape}}
                """, nginx.ProxyPort);
            await Ports.WaitListeningAsync(nginx.TlsProxyPort, "nginx proxy (TLS)", null, Signals.Timeout(20));
            if (nginx.ShapePort != 0)
            {
                await Ports.WaitListeningAsync(nginx.ShapePort, "nginx proxy (Jumpgate's shape)", null, Signals.Timeout(20));
            }
            return nginx;
        }
        catch
        {
            await nginx.DisposeAsync();
            throw;
        }
    }

    /// <summary>A throw-away self-signed ECDSA P-256 certificate, as `gateway init` makes one.</summary>
    private (string Certificate, string Key) WriteCertificate()
    {
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=localhost", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var (certificatePath, keyPath) = (_dir.File("proxy.crt"), _dir.File("proxy.key"));
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certificatePath, keyPath);
    }

    /// <summary>One nginx master with one worker; <paramref name="body"/> goes in its http block, or at the top with <paramref name="http"/> false.</summary>
    private async Task StartInstanceAsync(string name, string body, int port, bool http = true)
    {
        var temp = _dir.File($"{name}-temp");
        Directory.CreateDirectory(temp);
        var config = _dir.File($"{name}.conf");
        var top = http ? "" : $"load_module {StreamModule};";
        if (http)
        {
            body = $$"""
                http {
                    access_log off;
                    keepalive_requests 1000000;
                    client_body_temp_path {{temp}}/body;
                    proxy_temp_path {{temp}}/proxy;
                    fastcgi_temp_path {{temp}}/fastcgi;
                    uwsgi_temp_path {{temp}}/uwsgi;
                    scgi_temp_path {{temp}}/scgi;
                {{body}}
                }
                """;
        }
        await File.WriteAllTextAsync(config, $$"""
            {{top}}
            worker_processes 1;
            pid {{_dir.File(name + ".pid")}};
            error_log {{_dir.File(name + ".error.log")}} warn;
            events { worker_connections 4096; }
            {{body}}

            """);
        var process = ChildProcess.Start($"nginx {name}", Executable!,
            ["-p", _dir.Path, "-c", config, "-e", _dir.File(name + ".error.log"), "-g", "daemon off;"], null);
        _processes.Add(process);
        _instances[name] = process;
        await Ports.WaitListeningAsync(port, $"nginx {name}", process, Signals.Timeout(20));
    }

    /// <summary>An instance's master and worker ("upstream", "relay", "proxy"), for its CPU per request.</summary>
    public IReadOnlyList<int> Pids(string instance) => _instances.TryGetValue(instance, out var process) ? Processes.Tree(process.Id) : [];

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            // The master's workers go with it.
            var tree = Processes.Tree(process.Id);
            await process.DisposeAsync();
            Processes.Kill(tree);
        }
        _dir.Dispose();
    }
}
