using Jumpgate.Bench.Peers;
using Jumpgate.Bench.Report;
using Jumpgate.Bench.Support;
using Jumpgate.TestSupport;
using Npgsql;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// The cost of PostgreSQL: two Jumpgates of the same shape (a gateway, an agent serving the echo
/// server and nginx's upstream, a `jumpgate forward`), one on the default SQLite store and one on a
/// database of a throw-away PostgreSQL cluster, measured alternately in one run: new-connection
/// p50/p99 through `forward` as the new-connection figure does it, and the subdomain's requests/s
/// with wrk as the HTTP figure does it, each with the CPU that Jumpgate's processes spent.
/// </summary>
internal static class StoreCost
{
    private const string Sqlite = "Jumpgate on SQLite (the default store)";
    private const string Postgres = "**Jumpgate on PostgreSQL**";
    private const string LatencyFigure = "store cost: new connection p50 / p99";
    private const string HttpFigure = "store cost: HTTP small page, req/s · p99";
    private const string Database = "jg_bench_store";

    public static async Task RunAsync(Rig rig, Plan plan, Table table, Action<string> say)
    {
        var services = new Dictionary<string, int> { ["echo"] = rig.Echo.Port };
        if (rig.Web is not null)
        {
            services[JumpgateRig.HttpService] = rig.Web.UpstreamPort;
        }
        var cluster = Outliving.Postgres;
        var url = new UriBuilder(cluster.Database(Database)) { Password = "" }.Uri.ToString();
        say("store cost: a Jumpgate on SQLite and one on PostgreSQL");
        await using var onSqlite = await JumpgateRig.StartAsync(services);
        await using var onPostgres = await JumpgateRig.StartAsync(services, (url, cluster.Password));
        var stores = new (string Name, JumpgateRig Rig, TunnelPath Path)[]
        {
            (Sqlite, onSqlite, new TunnelPath(Sqlite, await onSqlite.ForwardAsync("echo", ForwardPath.Trunk), null)),
            (Postgres, onPostgres, new TunnelPath(Postgres, await onPostgres.ForwardAsync("echo", ForwardPath.Trunk), null)),
        };
        foreach (var (name, _, path) in stores)
        {
            await EchoProbe.VerifyAsync(name, path.EchoPort, 1 << 20, Signals.Timeout(30));
        }

        // New connections, rounds alternated, as the new-connection figure measures them.
        var samples = stores.ToDictionary(s => s.Name, _ => new List<double>());
        var failures = stores.ToDictionary(s => s.Name, _ => 0);
        var gatewayMs = stores.ToDictionary(s => s.Name, _ => 0.0);
        var jumpgateMs = stores.ToDictionary(s => s.Name, _ => 0.0);
        foreach (var (_, _, path) in stores)
        {
            await Latency.MeasureAsync(path, plan.LatencyWarmup, TimeSpan.FromSeconds(5), [], () => { });
        }
        for (var round = 1; round <= plan.LatencyRounds; round++)
        {
            // The order turns each round, so neither store always runs right after the other's load.
            foreach (var (name, jumpgate, path) in round % 2 == 1 ? stores : Enumerable.Reverse(stores))
            {
                var before = samples[name].Count;
                var cpu = new ProcessCpu(jumpgate.Roles);
                await Latency.MeasureAsync(path, plan.LatencyPerRound, plan.LatencyRoundCap, samples[name], () => failures[name]++);
                var spent = cpu.Spent();
                gatewayMs[name] += spent.Single(r => r.Name == "gateway").Milliseconds;
                jumpgateMs[name] += spent.Sum(r => r.Milliseconds);
                var got = samples[name].Skip(before).ToList();
                say($"store cost, new connection {round}/{plan.LatencyRounds}: {name} p50 {Table.F(Stats.Median(got))} ms over {got.Count}");
            }
        }
        string LatencyResult(string name)
        {
            var all = samples[name];
            var n = Math.Max(1, all.Count + failures[name]);
            var failed = failures[name] > 0 ? $", **{failures[name]} failed**" : "";
            return $"{Table.F(Stats.Median(all))} / {Table.F(Stats.Percentile(all, 99))} ms (n = {all.Count}{failed}), {Table.F(jumpgateMs[name] / n)} ms CPU each (gateway {Table.F(gatewayMs[name] / n)})";
        }
        table.Add(new Row(LatencyFigure, Sqlite, LatencyResult(Sqlite)));
        var (pg, sq) = (samples[Postgres], samples[Sqlite]);
        table.Check(LatencyFigure, LatencyResult(Postgres), Stats.Median(pg) / Stats.Median(sq), "SQLite (p50)", "≤ 1.1 ×", atMost: true, 1.1, Postgres);
        table.Check(LatencyFigure, LatencyResult(Postgres), Stats.Percentile(pg, 99) / Stats.Percentile(sq, 99), "SQLite (p99)", "≤ 1.1 ×", atMost: true, 1.1, Postgres);

        if (rig.Web is not null && Http.WrkPath is not null)
        {
            await MeasureHttpAsync(stores, plan, table, say);
        }
        else
        {
            table.Add(new Row(HttpFigure, Postgres, $"n/a ({(rig.Web is null ? "nginx" : "wrk")} is not installed)"));
        }
        table.Note("Store cost: two Jumpgates of one shape in one run (a gateway, an agent, `jumpgate forward`), one on the default SQLite store, one on a database of a throw-away PostgreSQL cluster on loopback (initdb, pg_ctl; fsync off, as a throw-away cluster may run); " +
            "measured alternately (the order turning each round), new connections as the new-connection figure does (CPU each: gateway, agent and forward, /proc/PID/stat), HTTP as the HTTP figure does (CPU each: gateway and agent). PostgreSQL ÷ SQLite; the target is within 1.1 ×.");
    }

    /// <summary>
    /// Transactions the store's database has counted (pg_stat_database; each backend reports its
    /// counts at most once a second, so a count lags by about that): whether requests cost round trips.
    /// </summary>
    private static long DatabaseTransactions()
    {
        var cluster = Outliving.Postgres;
        var connectionString = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1", Port = cluster.Port, Username = PostgresCluster.User, Password = cluster.Password, Database = Database, Pooling = false,
        }.ConnectionString;
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var command = new NpgsqlCommand("SELECT (xact_commit + xact_rollback)::bigint FROM pg_stat_database WHERE datname = current_database()", connection);
        return (long)command.ExecuteScalar()!;
    }

    private static async Task MeasureHttpAsync((string Name, JumpgateRig Rig, TunnelPath Path)[] stores, Plan plan, Table table, Action<string> say)
    {
        var targets = new List<(Http.WrkTarget Target, JumpgateRig Rig)>();
        foreach (var (name, jumpgate, _) in stores)
        {
            var (gatewayPort, host, cookie) = await jumpgate.BrowserSessionAsync();
            var target = new Http.WrkTarget(name, $"https://127.0.0.1:{gatewayPort}/", ["-H", $"Host: {host}", "-H", $"Cookie: {cookie}"]);
            // The page must come back before it is timed.
            using var browser = new GatewayBrowser(jumpgate.Deployment.GatewayUrl, jumpgate.Deployment.Fingerprint);
            browser.Cookies.SetCookies(new Uri($"https://{host}/"), cookie.Replace("; ", ",", StringComparison.Ordinal));
            var body = await browser.Client.GetStringAsync(new Uri($"https://{host}/"));
            if (body.TrimEnd('\n') != Nginx.Page.TrimEnd('\n'))
            {
                throw new InvalidOperationException($"{name} served an unexpected page: {body}");
            }
            targets.Add((target, jumpgate));
        }
        foreach (var (target, _) in targets)
        {
            var warm = await Http.WrkAsync(target, plan.HttpWarmupSeconds);
            say($"store cost, http warm-up: {target.Name} {warm.Rps:0} req/s");
        }
        var results = targets.ToDictionary(t => t.Target.Name, _ => new List<(double Rps, double P99, double CpuMicroseconds)>());
        var postgresRig = stores.Single(s => s.Name == Postgres).Rig;
        var (roundTrips, postgresRequests) = (0L, 0L);
        for (var round = 1; round <= plan.HttpRounds; round++)
        {
            foreach (var (target, jumpgate) in round % 2 == 1 ? targets : Enumerable.Reverse(targets))
            {
                var cpu = new ProcessCpu(jumpgate.Roles);
                var transactions = jumpgate == postgresRig ? DatabaseTransactions() : 0;
                var measured = await Http.WrkAsync(target, plan.HttpSeconds);
                if (jumpgate == postgresRig)
                {
                    roundTrips += DatabaseTransactions() - transactions;
                    postgresRequests += measured.Requests;
                }
                var microseconds = cpu.Spent().Where(r => r.Name is "gateway" or "agent").Sum(r => r.Milliseconds) * 1000 / measured.Requests;
                results[target.Name].Add((measured.Rps, measured.P99, microseconds));
                say($"store cost, http {round}/{plan.HttpRounds}: {target.Name} {measured.Rps:0} req/s, p99 {Table.F(measured.P99)} ms, {microseconds:0} µs CPU each");
            }
        }
        double Rps(string name) => Stats.Median([.. results[name].Select(r => r.Rps)]);
        double P99(string name) => Stats.Median([.. results[name].Select(r => r.P99)]);
        double Cpu(string name) => Stats.Median([.. results[name].Select(r => r.CpuMicroseconds)]);
        string Result(string name) => $"{Rps(name):0} req/s · p99 {Table.F(P99(name))} ms, gateway+agent {Cpu(name):0} µs CPU each";
        table.Add(new Row(HttpFigure, Sqlite, Result(Sqlite)));
        table.Check(HttpFigure, Result(Postgres), Rps(Postgres) / Rps(Sqlite), "SQLite req/s", "≥ 0.91 × (within 1.1 ×)", atMost: false, 1 / 1.1, Postgres);
        table.Check(HttpFigure, Result(Postgres), Cpu(Postgres) / Cpu(Sqlite), "SQLite CPU each", "≤ 1.1 ×", atMost: true, 1.1, Postgres);
        table.Note($"Store cost, HTTP: the database counted {roundTrips} transactions while the gateway on PostgreSQL served {postgresRequests} requests (pg_stat_database; the generation's listener reads its row every half re-check interval): requests are answered from memory.");
        table.Note($"Store cost, HTTP: the subdomain with a signed-in session, wrk -t1 -c16 -d{plan.HttpSeconds}s --latency, {plan.HttpRounds} round(s) after a {plan.HttpWarmupSeconds} s unmeasured run of each, alternated, medians.");
    }
}
