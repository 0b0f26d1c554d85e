#include <libdeflate.h>
#include <zlib.h>
#include <zstd.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
int main(int c,char**v){FILE*f=fopen(v[1],"rb");fseek(f,0,2);long n=ftell(f);fseek(f,0,0);char*b=malloc(n);fread(b,1,n,f);
size_t B=1<<20; char*o=malloc(2*B+1000);
for(int l=1;l<=6;l++){struct libdeflate_compressor*cc=libdeflate_alloc_compressor(l);double t=now();size_t tot=0;
for(long p=0;p<n;p+=B){size_t k=n-p<B?n-p:B;tot+=libdeflate_gzip_compress(cc,b+p,k,o,2*B+1000);}
printf("libdeflate %d: %.2fs %zu\n",l,now()-t,tot);}
for(int l=1;l<=6;l+=5){double t=now();size_t tot=0;for(long p=0;p<n;p+=B){size_t k=n-p<B?n-p:B;uLongf ol=2*B+1000;compress2((Bytef*)o,&ol,(Bytef*)b+p,k,l);tot+=ol;}printf("zlib %d: %.2fs %zu\n",l,now()-t,tot);}
for(int l=1;l<=3;l+=2){double t=now();size_t tot=ZSTD_compress(o,0,b,0,l);tot=0;for(long p=0;p<n;p+=B){size_t k=n-p<B?n-p:B;tot+=ZSTD_compress(o,2*B+1000,b+p,k,l);}printf("zstd %d: %.2fs %zu\n",l,now()-t,tot);}
}
