using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Peers;

/// <summary>
/// Two throw-away nginx instances on loopback for the HTTP figure: an upstream serving a small
/// page, and a reverse proxy in front of it (keep-alive to the upstream, as one would configure it).
/// </summary>
internal sealed class Nginx : IAsyncDisposable
{
    /// <summary>The small page: what a Jupyter or TensorBoard API call returns, give or take.</summary>
    public const string Page = "<!doctype html><title>jumpgate bench</title><p>hello from the upstream</p>\n";

    private readonly TempDirectory _dir = new("jg-bench-nginx");
    private readonly List<ChildProcess> _processes = [];

    public int UpstreamPort { get; private set; }
    public int ProxyPort { get; private set; }

    public static string? Executable => File.Exists("/usr/sbin/nginx") ? "/usr/sbin/nginx" : null;

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
            await nginx.StartInstanceAsync("proxy", $$"""
                upstream app {
                    server 127.0.0.1:{{nginx.UpstreamPort}};
                    keepalive 64;
                }
                server {
                    listen 127.0.0.1:{{nginx.ProxyPort}} backlog=4096;
                    location / {
                        proxy_pass http://app;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_set_header Host $host;
                    }
                }
                """, nginx.ProxyPort);
            return nginx;
        }
        catch
        {
            await nginx.DisposeAsync();
            throw;
        }
    }

    private async Task StartInstanceAsync(string name, string server, int port)
    {
        var temp = _dir.File($"{name}-temp");
        Directory.CreateDirectory(temp);
        var config = _dir.File($"{name}.conf");
        await File.WriteAllTextAsync(config, $$"""
            worker_processes 1;
            pid {{_dir.File(name + ".pid")}};
            error_log {{_dir.File(name + ".error.log")}} warn;
            events { worker_connections 4096; }
            http {
                access_log off;
                keepalive_requests 1000000;
                client_body_temp_path {{temp}}/body;
                proxy_temp_path {{temp}}/proxy;
                fastcgi_temp_path {{temp}}/fastcgi;
                uwsgi_temp_path {{temp}}/uwsgi;
                scgi_temp_path {{temp}}/scgi;
            {{server}}
            }

            """);
        var process = ChildProcess.Start($"nginx {name}", Executable!,
            ["-p", _dir.Path, "-c", config, "-e", _dir.File(name + ".error.log"), "-g", "daemon off;"], null);
        _processes.Add(process);
        await Ports.WaitListeningAsync(port, $"nginx {name}", process, Signals.Timeout(20));
    }

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
