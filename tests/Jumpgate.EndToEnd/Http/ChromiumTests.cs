using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Http;

/// <summary>The headless browser the gateway's HTTP tests drive: real pages, real scripts, one trusted certificate.</summary>
public sealed class ChromiumTests(ITestOutputHelper output)
{
    [Fact]
    public async Task RendersJupytersTreePageWithItsScripts()
    {
        await using var jupyter = await JupyterServer.StartAsync(output);
        await File.WriteAllTextAsync(Path.Combine(jupyter.RootDir, "hello-jumpgate.ipynb"),
            """{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}""");
        using var chromium = new Chromium(output);
        var tree = new Uri(jupyter.BaseUrl, $"tree?token={jupyter.Token}");

        var dom = await chromium.DumpDomAsync(tree);
        var screenshot = await chromium.ScreenshotAsync(tree, "jupyter-tree.png", 1280, 800);

        // Notebook 6's file list is in the page's HTML; the file's row is drawn by its scripts from /api/contents.
        Assert.Contains("id=\"notebook_list\"", dom, StringComparison.Ordinal);
        Assert.Contains("hello-jumpgate.ipynb", dom, StringComparison.Ordinal);
        Assert.True(jupyter.SawRequest("/api/contents"), string.Join('\n', jupyter.Requests));
        Assert.True(new FileInfo(screenshot).Length > 1000, screenshot);
    }

    [Fact]
    public async Task ReachesLocalhostSubdomainsTrustingExactlyTheGivenCertificate()
    {
        using var certificate = SelfSignedCertificate.Create("gw.localhost", "*.gw.localhost");
        using var stranger = SelfSignedCertificate.Create("gw.localhost", "*.gw.localhost");
        await using var upstream = await HttpUpstream.StartAsync(certificate);
        using var pem = new TempDirectory("jg-cert");
        await File.WriteAllTextAsync(pem.File("gateway.crt"), certificate.ExportCertificatePem());
        // Two labels under .localhost, as the gateway's service names will be; no DNS or /etc/hosts involved.
        var page = new Uri($"https://jupyter--node1.gw.localhost:{upstream.Port}/headers");

        using var trusting = new Chromium(output, Chromium.SpkiHash(pem.File("gateway.crt")));
        var trusted = await trusting.DumpDomAsync(page);
        await trusting.ScreenshotAsync(page, "localhost-subdomain.png", 800, 400);
        using var wary = new Chromium(output, Chromium.SpkiHash(stranger));
        var refused = await wary.DumpDomAsync(page);

        Assert.Equal(Chromium.SpkiHash(certificate), Chromium.SpkiHash(pem.File("gateway.crt")));
        Assert.Contains($"\"Host\":\"jupyter--node1.gw.localhost:{upstream.Port}\"", trusted, StringComparison.Ordinal);
        // A page that fails TLS leaves --dump-dom with nothing to print.
        Assert.DoesNotContain("\"Host\"", refused, StringComparison.Ordinal);
        // Only the trusting browser's two loads got past TLS.
        Assert.Equal(2, upstream.Requests.Count(r => r.PathAndQuery == "/headers"));
    }
}
