/*
 * fxmlsim's guard in front of vsmartcard's vpcd reader driver.
 *
 * pcscd loads this file as the reader driver (reader.conf LIBPATH); it loads
 * vpcd's driver copy next to it and forwards every IFDH call, except what
 * vpcd's socket protocol cannot carry:
 *
 * - vpcd frames a command APDU and a control message the same way (a 2-byte
 *   length, then the payload) and a 1-byte payload is a control message
 *   (00 power off, 01 power on, 02 reset, 04 ATR request; vpcd.h,
 *   VPCD_CTRL_LEN). A 1-byte command APDU is therefore read by the card as a
 *   control message: 02 resets the card and vpcd waits for ever for an
 *   answer (holding the reader's lock), 04 gets the ATR back as if it were a
 *   response. vpcd sends a 0-byte command as no message at all and then
 *   waits for an answer. ISO/IEC 7816-4 commands have at least 4 bytes, so
 *   every command shorter than that is answered 6700 here, as a card answers
 *   a malformed command, and never reaches vpcd.
 * - vpcd's length is 16 bits: a command of 65,536 bytes or more makes vpcd
 *   drop the card's link. Such a command is answered 6700 here too (the
 *   card's input buffer is smaller); the card stays in the reader.
 * - When the card's link goes away during a command, vpcd reports success
 *   with a 0-byte answer. That is a card removed mid-command: reported as
 *   IFD_ICC_NOT_PRESENT, which pcscd turns into SCARD_E_NO_SMARTCARD.
 *
 * The driver copy loaded is the file named like this one with the prefix
 * "ifd-guard-" replaced by "libifdvpcd-" (simulator/pcsc/layout.py: one copy
 * of each per reader.conf entry, because vpcd keeps its slots in static
 * storage).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ifdhandler.h>

#define GUARD_PREFIX "ifd-guard-"
#define VPCD_PREFIX "libifdvpcd-"
#define MIN_APDU 4
#define MAX_VPCD_MESSAGE 0xFFFF

static void *vpcd;
static RESPONSECODE (*vpcd_create_by_name)(DWORD, LPSTR);
static RESPONSECODE (*vpcd_create)(DWORD, DWORD);
static RESPONSECODE (*vpcd_close)(DWORD);
static RESPONSECODE (*vpcd_get_capabilities)(DWORD, DWORD, PDWORD, PUCHAR);
static RESPONSECODE (*vpcd_set_capabilities)(DWORD, DWORD, DWORD, PUCHAR);
static RESPONSECODE (*vpcd_set_protocol)(DWORD, DWORD, UCHAR, UCHAR, UCHAR, UCHAR);
static RESPONSECODE (*vpcd_power)(DWORD, DWORD, PUCHAR, PDWORD);
static RESPONSECODE (*vpcd_transmit)(DWORD, SCARD_IO_HEADER, PUCHAR, DWORD, PUCHAR, PDWORD, PSCARD_IO_HEADER);
static RESPONSECODE (*vpcd_control)(DWORD, DWORD, PUCHAR, DWORD, PUCHAR, DWORD, LPDWORD);
static RESPONSECODE (*vpcd_presence)(DWORD);

static void *symbol(const char *name)
{
    void *found = dlsym(vpcd, name);
    if (found == NULL)
        fprintf(stderr, "fxmlsim ifd-guard: vpcd driver has no %s\n", name);
    return found;
}

/* Runs when pcscd loads this file: find and load the vpcd copy beside it. */
__attribute__((constructor)) static void load_vpcd(void)
{
    Dl_info self;
    char path[4096];
    const char *base;
    size_t dir_len;

    if (!dladdr((void *) &load_vpcd, &self) || self.dli_fname == NULL) {
        fprintf(stderr, "fxmlsim ifd-guard: cannot find my own file name\n");
        return;
    }
    base = strrchr(self.dli_fname, '/');
    base = base ? base + 1 : self.dli_fname;
    if (strncmp(base, GUARD_PREFIX, strlen(GUARD_PREFIX)) != 0) {
        fprintf(stderr, "fxmlsim ifd-guard: %s is not named " GUARD_PREFIX "<k>.so\n", self.dli_fname);
        return;
    }
    dir_len = (size_t) (base - self.dli_fname);
    if (snprintf(path, sizeof path, "%.*s" VPCD_PREFIX "%s", (int) dir_len, self.dli_fname,
                 base + strlen(GUARD_PREFIX)) >= (int) sizeof path) {
        fprintf(stderr, "fxmlsim ifd-guard: driver path too long\n");
        return;
    }
    /* RTLD_DEEPBIND: vpcd's calls to its own IFDH functions stay inside vpcd. */
    vpcd = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (vpcd == NULL) {
        fprintf(stderr, "fxmlsim ifd-guard: %s\n", dlerror());
        return;
    }
    vpcd_create_by_name = (RESPONSECODE (*)(DWORD, LPSTR)) symbol("IFDHCreateChannelByName");
    vpcd_create = (RESPONSECODE (*)(DWORD, DWORD)) symbol("IFDHCreateChannel");
    vpcd_close = (RESPONSECODE (*)(DWORD)) symbol("IFDHCloseChannel");
    vpcd_get_capabilities = (RESPONSECODE (*)(DWORD, DWORD, PDWORD, PUCHAR)) symbol("IFDHGetCapabilities");
    vpcd_set_capabilities = (RESPONSECODE (*)(DWORD, DWORD, DWORD, PUCHAR)) symbol("IFDHSetCapabilities");
    vpcd_set_protocol = (RESPONSECODE (*)(DWORD, DWORD, UCHAR, UCHAR, UCHAR, UCHAR))
        symbol("IFDHSetProtocolParameters");
    vpcd_power = (RESPONSECODE (*)(DWORD, DWORD, PUCHAR, PDWORD)) symbol("IFDHPowerICC");
    vpcd_transmit = (RESPONSECODE (*)(DWORD, SCARD_IO_HEADER, PUCHAR, DWORD, PUCHAR, PDWORD, PSCARD_IO_HEADER))
        symbol("IFDHTransmitToICC");
    vpcd_control = (RESPONSECODE (*)(DWORD, DWORD, PUCHAR, DWORD, PUCHAR, DWORD, LPDWORD)) symbol("IFDHControl");
    vpcd_presence = (RESPONSECODE (*)(DWORD)) symbol("IFDHICCPresence");
}

#define FORWARD(fn, ...) return (fn) ? (fn)(__VA_ARGS__) : IFD_COMMUNICATION_ERROR

RESPONSECODE IFDHCreateChannelByName(DWORD Lun, LPSTR DeviceName)
{
    FORWARD(vpcd_create_by_name, Lun, DeviceName);
}

RESPONSECODE IFDHCreateChannel(DWORD Lun, DWORD Channel)
{
    FORWARD(vpcd_create, Lun, Channel);
}

RESPONSECODE IFDHCloseChannel(DWORD Lun)
{
    FORWARD(vpcd_close, Lun);
}

RESPONSECODE IFDHGetCapabilities(DWORD Lun, DWORD Tag, PDWORD Length, PUCHAR Value)
{
    FORWARD(vpcd_get_capabilities, Lun, Tag, Length, Value);
}

RESPONSECODE IFDHSetCapabilities(DWORD Lun, DWORD Tag, DWORD Length, PUCHAR Value)
{
    FORWARD(vpcd_set_capabilities, Lun, Tag, Length, Value);
}

RESPONSECODE IFDHSetProtocolParameters(DWORD Lun, DWORD Protocol, UCHAR Flags, UCHAR PTS1, UCHAR PTS2, UCHAR PTS3)
{
    FORWARD(vpcd_set_protocol, Lun, Protocol, Flags, PTS1, PTS2, PTS3);
}

RESPONSECODE IFDHPowerICC(DWORD Lun, DWORD Action, PUCHAR Atr, PDWORD AtrLength)
{
    FORWARD(vpcd_power, Lun, Action, Atr, AtrLength);
}

RESPONSECODE IFDHControl(DWORD Lun, DWORD dwControlCode, PUCHAR TxBuffer, DWORD TxLength, PUCHAR RxBuffer,
                         DWORD RxLength, LPDWORD pdwBytesReturned)
{
    FORWARD(vpcd_control, Lun, dwControlCode, TxBuffer, TxLength, RxBuffer, RxLength, pdwBytesReturned);
}

RESPONSECODE IFDHICCPresence(DWORD Lun)
{
    FORWARD(vpcd_presence, Lun);
}

RESPONSECODE IFDHTransmitToICC(DWORD Lun, SCARD_IO_HEADER SendPci, PUCHAR TxBuffer, DWORD TxLength,
                               PUCHAR RxBuffer, PDWORD RxLength, PSCARD_IO_HEADER RecvPci)
{
    RESPONSECODE r;

    if (vpcd_transmit == NULL || RxLength == NULL)
        return IFD_COMMUNICATION_ERROR;
    if (TxLength < MIN_APDU || TxLength > MAX_VPCD_MESSAGE) {
        /* vpcd cannot carry it (see the top of this file): answer as a card
         * answers a command of the wrong length. */
        if (*RxLength < 2) {
            *RxLength = 0;
            return IFD_COMMUNICATION_ERROR;
        }
        RxBuffer[0] = 0x67;
        RxBuffer[1] = 0x00;
        *RxLength = 2;
        if (RecvPci != NULL)
            RecvPci->Protocol = 1; /* what vpcd itself answers */
        return IFD_SUCCESS;
    }
    r = vpcd_transmit(Lun, SendPci, TxBuffer, TxLength, RxBuffer, RxLength, RecvPci);
    if (r == IFD_SUCCESS && *RxLength == 0) {
        /* vpcd lost the card's link while waiting for its answer. */
        return IFD_ICC_NOT_PRESENT;
    }
    if (r != IFD_SUCCESS && vpcd_presence != NULL && vpcd_presence(Lun) == IFD_ICC_NOT_PRESENT)
        return IFD_ICC_NOT_PRESENT;
    return r;
}
