#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
.SYNOPSIS
    Ends a temporary local administrator grant: removes the member from Administrators and clears
    the tag Grant-TemporaryAdmin.ps1 wrote.

.DESCRIPTION
    Run by the scheduled task Grant-TemporaryAdmin.ps1 registers (at the expiry), and by
    Invoke-PrivtrailRemediation.ps1 when privtrail asks the RMM to revoke a grant that outlived
    its promise. Removing a member that is already gone is not an error. The tag values are
    removed only when they name this member, so ending one grant never erases another's tag.
    The group is found by its SID (S-1-5-32-544), so the script works whatever the system
    language.

.EXAMPLE
    .\Remove-TemporaryAdmin.ps1 -MemberSid S-1-5-21-3623811015-3361044348-30300820-1104
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [Parameter(Mandatory = $true)]
    [ValidatePattern('^S-1-[0-9]+(-[0-9]+)+$')]
    [string] $MemberSid,

    [string] $KeyPath = 'HKLM:\SOFTWARE\Org\AdminAccessAudit'
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$TagValues = @('LastAdminGranted', 'ExpiresAt', 'GrantedTo', 'GrantedToSid', 'GrantedBy', 'Ticket', 'Reason', 'Host')

if ($PSCmdlet.ShouldProcess($MemberSid, 'Remove from the local Administrators group')) {
    try {
        Remove-LocalGroupMember -Group (Get-LocalGroup -SID S-1-5-32-544) -Member $MemberSid
    }
    catch [Microsoft.PowerShell.Commands.MemberNotFoundException] {
        Write-Verbose "$MemberSid is not a member of Administrators (already removed)."
    }
    catch [Microsoft.PowerShell.Commands.PrincipalNotFoundException] {
        Write-Verbose "$MemberSid does not resolve (account deleted); nothing to remove."
    }

    if (Test-Path -Path $KeyPath) {
        $tag = Get-ItemProperty -Path $KeyPath
        $taggedSid = $tag.PSObject.Properties['GrantedToSid']
        if ($null -ne $taggedSid -and $taggedSid.Value -eq $MemberSid) {
            foreach ($name in $TagValues) {
                Remove-ItemProperty -Path $KeyPath -Name $name -ErrorAction SilentlyContinue
            }
        }
    }

    Unregister-ScheduledTask -TaskName "privtrail-revoke-$MemberSid" -TaskPath '\Org\' -Confirm:$false `
        -ErrorAction SilentlyContinue
}
