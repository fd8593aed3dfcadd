self.addEventListener("fetch",()=>{})
