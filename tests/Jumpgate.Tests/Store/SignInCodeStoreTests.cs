using System.Security.Cryptography;
using Jumpgate.Gateway.Http;
using Jumpgate.Gateway.Store;
using Jumpgate.Tests.Auth;
using Xunit;

namespace Jumpgate.Tests.Store;

/// <summary>
/// One-time sign-in codes on each backend, minted and redeemed as two gateways on one store do
/// (two stores opened on one file or database): a code works once, on any of them, on its own
/// subdomain and within its lifetime; two gateways redeeming one code at once never both sign in.
/// </summary>
public sealed class SignInCodeStoreTests
{
    private const string Label = "web--node1";
    private static readonly DateTimeOffset Now = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void ACodeMintedThroughOneGatewaySignsInOnAnotherOnce(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-signin-codes");
        var time = new ManualTime();
        var first = new SignInCodes(temp.Store.SignInCodes, time);
        var second = new SignInCodes(temp.OpenAnother().SignInCodes, time);

        var code = first.Mint("alice", "token1", "signin1", Label, TimeSpan.FromMinutes(5));

        Assert.Equal(new SignInGrant("alice", "token1", "signin1", Label, time.GetUtcNow() + TimeSpan.FromMinutes(5)), second.Redeem(code, Label));
        Assert.Null(second.Redeem(code, Label));
        Assert.Null(first.Redeem(code, Label));
    }

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void ACodeIsRefusedPastItsLifetimeOrOnAnotherSubdomainAndUsedUpEitherWay(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-signin-codes");
        var time = new ManualTime();
        var codes = new SignInCodes(temp.Store.SignInCodes, time);

        var late = codes.Mint("alice", "token1", "signin1", Label, TimeSpan.FromSeconds(60));
        var elsewhere = codes.Mint("alice", "token1", "signin1", Label, TimeSpan.FromSeconds(60));
        Assert.Null(codes.Redeem(elsewhere, "jupyter--node1"));
        Assert.Null(codes.Redeem(elsewhere, Label));
        time.Advance(TimeSpan.FromSeconds(61));
        Assert.Null(codes.Redeem(late, Label));
        Assert.Null(codes.Redeem(new string('0', 64), Label));
        Assert.Null(codes.Redeem("short", Label));
    }

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public async Task OfTwoGatewaysRedeemingOneCodeAtOnceExactlyOneSignsIn(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-signin-codes");
        var time = new ManualTime();
        SignInCodes[] gateways = [new(temp.Store.SignInCodes, time), new(temp.OpenAnother().SignInCodes, time)];

        for (var round = 0; round < 40; round++)
        {
            var code = gateways[0].Mint("alice", "token1", $"signin{round}", Label, TimeSpan.FromMinutes(1));
            using var together = new Barrier(2);
            var redeemed = await Task.WhenAll(gateways.Select(gateway => Task.Run(() =>
            {
                together.SignalAndWait(TimeSpan.FromSeconds(10));
                return gateway.Redeem(code, Label);
            })));

            Assert.Single(redeemed, grant => grant is not null);
        }
    }

    [Theory]
    [MemberData(nameof(TempStore.Backends), MemberType = typeof(TempStore))]
    public void ExpiredCodesLeaveTheStoreAtTheNextMint(StoreBackend backend)
    {
        using var temp = new TempStore(backend, "jg-signin-codes");
        var codes = temp.Store.SignInCodes;
        var expired = RandomNumberGenerator.GetBytes(32);
        var live = RandomNumberGenerator.GetBytes(32);

        codes.Add(expired, new SignInGrant("alice", "token1", "signin1", Label, Now + TimeSpan.FromMinutes(1)), Now);
        codes.Add(live, new SignInGrant("alice", "token1", "signin2", Label, Now + TimeSpan.FromMinutes(10)), Now + TimeSpan.FromMinutes(2));

        Assert.Null(codes.Take(expired));
        Assert.Equal("signin2", codes.Take(live)?.SignIn);
    }
}
